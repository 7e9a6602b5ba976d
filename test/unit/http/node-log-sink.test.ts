/**
 * The Node origin's log sink batches lines into one write FLUSH_DELAY_MS after the first of them,
 * never holds more than 64 KiB back, keeps their order and their bytes (UTF-8), and loses none when
 * the process exits, also through a SIGTERM handler that exits as `npm start`'s does. Access log
 * lines given as fields (`logAccess`) are built a batch at a time into exactly the lines the
 * string path writes, in the order of writing among the other lines.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../../src/http/app.ts'
import { createJsonLogger, type Logger } from '../../../src/http/log.ts'
import { accessLogMembers, writeAccessLog } from '../../../src/http/request-log.ts'
import { createMetrics } from '../../../src/entry/node-metrics.ts'
import {
  batchedJsonLogger,
  batchedLineWriter,
  droppedLogLines,
  FLUSH_DELAY_MS,
  MAX_PENDING_BYTES,
  type LineBatchOptions,
  wallClock,
  WALL_CLOCK_RESYNC_MS,
} from '../../../src/entry/node-log-sink.ts'

function collector() {
  const chunks: (string | Uint8Array)[] = []
  return {
    chunks,
    /** What was written, chunk by chunk, as text. */
    text: () => chunks.map((chunk) => Buffer.from(chunk).toString('utf8')),
    stream: { write: (chunk: string | Uint8Array) => chunks.push(chunk) > 0 },
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('wallClock', () => {
  it('is the wall clock, read again every WALL_CLOCK_RESYNC_MS of the monotonic one', () => {
    let monotonic = 50
    let wall = 1_700_000_000_000
    let wallReads = 0
    const now = wallClock(
      () => monotonic,
      () => (wallReads++, wall),
    )
    expect(now()).toBe(1_700_000_000_000)
    // Between reads it moves with the monotonic clock, without reading the wall clock.
    monotonic += 250.5
    wall += 250
    expect(now()).toBe(1_700_000_000_250.5)
    expect(wallReads).toBe(1)
    // The wall clock is stepped back 5 s (NTP, an operator): seen at the next read, not before.
    wall -= 5000
    monotonic = 50 + WALL_CLOCK_RESYNC_MS - 1
    expect(now()).toBe(1_700_000_000_000 + WALL_CLOCK_RESYNC_MS - 1)
    monotonic = 50 + WALL_CLOCK_RESYNC_MS
    wall = 1_700_000_000_000 + WALL_CLOCK_RESYNC_MS - 5000
    expect(now()).toBe(wall)
    expect(wallReads).toBe(2)
  })

  it('by default stays within the resync bound of Date.now', () => {
    const now = wallClock()
    const before = Date.now()
    const t = now()
    const after = Date.now()
    expect(t).toBeGreaterThanOrEqual(before - 1)
    expect(t).toBeLessThanOrEqual(after + 1)
  })
})

describe('batchedLineWriter', () => {
  it('writes the lines of a batch together, in order, FLUSH_DELAY_MS after the first one', () => {
    vi.useFakeTimers()
    const { chunks, text, stream } = collector()
    const write = batchedLineWriter(stream)
    write('{"n":1}')
    vi.advanceTimersByTime(FLUSH_DELAY_MS - 1)
    write('{"n":2}')
    expect(chunks).toEqual([])
    vi.advanceTimersByTime(1)
    expect(text()).toEqual(['{"n":1}\n{"n":2}\n'])
    write('{"n":3}')
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    expect(text()).toEqual(['{"n":1}\n{"n":2}\n', '{"n":3}\n'])
    vi.advanceTimersByTime(10 * FLUSH_DELAY_MS)
    expect(chunks).toHaveLength(2)
  })

  it('writes at once when 64 KiB are pending', () => {
    const { chunks, text, stream } = collector()
    const write = batchedLineWriter(stream)
    const line = 'x'.repeat(1023)
    for (let i = 0; i < 64; i++) write(line)
    expect(chunks).toHaveLength(1)
    expect(text()[0]).toBe(`${line}\n`.repeat(64))
  })

  it('keeps the bytes of non-ASCII lines (UTF-8), and a batch full of them still leaves whole', () => {
    vi.useFakeTimers()
    const { text, stream } = collector()
    const write = batchedLineWriter(stream)
    const lines = Array.from({ length: 3000 }, (_, i) => `{"path":"/ü/€/𝄞/${i}"}`)
    for (const line of lines) write(line)
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    expect(text().join('')).toBe(lines.map((line) => `${line}\n`).join(''))
  })

  it('writes a line longer than a batch on its own, after the lines before it', () => {
    vi.useFakeTimers()
    const { text, stream } = collector()
    const write = batchedLineWriter(stream)
    const long = `{"msg":"${'é'.repeat(100_000)}"}`
    write('{"n":1}')
    write(long)
    write('{"n":2}')
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    expect(text()).toEqual(['{"n":1}\n', `${long}\n`, '{"n":2}\n'])
  })
})

describe('batchedJsonLogger: access log lines built a batch at a time', () => {
  /** A batched logger on a collecting stream, with a clock the test sets. */
  function batched(level: 'info' | 'warn' = 'info') {
    const { chunks, text, stream } = collector()
    const clock = { now: 1_700_000_000_000 }
    const logger = batchedJsonLogger(stream, level, () => clock.now)
    return { chunks, clock, logger, lines: () => text().join('').split('\n').slice(0, -1) }
  }

  it('writes the line the string path writes, for any fields, at the time of writing', () => {
    vi.useFakeTimers()
    const method = fc.oneof(
      fc.constantFrom('GET', 'POST', 'HEAD', 'PROPFIND', 'constructor', '__proto__'),
      fc.string({ unit: 'binary', maxLength: 12 }),
    )
    const entry = fc.record({
      time: fc.double({ min: 0, max: 4e12, noNaN: true }),
      id: fc.stringMatching(/^[\w=-]{1,64}$/),
      method,
      path: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 700 }),
        fc.constant('/x/eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl'),
      ),
      status: fc.integer({ min: 100, max: 599 }),
      durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
      error: fc.option(fc.string({ unit: 'binary', maxLength: 30 }), { nil: undefined }),
    })
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 300 }), (entries) => {
        const { clock, logger, lines } = batched()
        const expected: string[] = []
        for (const e of entries) {
          const level = e.status >= 500 ? 'error' : 'info'
          clock.now = e.time
          writeAccessLog(logger, e.id, e.method, e.path, e.status, e.durationMs, e.error)
          createJsonLogger({ write: (l) => expected.push(l), now: () => e.time }).logMembers?.(
            level,
            accessLogMembers(level, e.id, e.method, e.path, e.status, e.durationMs, e.error),
          )
        }
        vi.advanceTimersByTime(FLUSH_DELAY_MS)
        expect(lines()).toEqual(expected)
      }),
      { numRuns: 300 },
    )
  })

  it('keeps the order of writing among other lines, and leaves FLUSH_DELAY_MS after the first', () => {
    vi.useFakeTimers()
    const { chunks, logger, lines } = batched()
    writeAccessLog(logger, 'r-1', 'GET', '/a', 200, 1, undefined)
    logger.log({ level: 'warn', msg: 'between' })
    writeAccessLog(logger, 'r-2', 'GET', '/b', 401, 1, 'token_missing')
    vi.advanceTimersByTime(FLUSH_DELAY_MS - 1)
    expect(chunks).toEqual([])
    vi.advanceTimersByTime(1)
    expect(chunks).toHaveLength(1)
    expect(lines().map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ msg: 'request', requestId: 'r-1', path: '/a' }),
      expect.objectContaining({ msg: 'between' }),
      expect.objectContaining({ msg: 'request', requestId: 'r-2', error: 'token_missing' }),
    ])
  })

  it('builds more entries than it holds, and batches of 64 KiB, in order', () => {
    vi.useFakeTimers()
    const { chunks, logger, lines } = batched()
    const n = 5000
    for (let i = 0; i < n; i++)
      writeAccessLog(logger, `r-${i}`, 'GET', `/p/${i}`, 200, 0.5, undefined)
    // 5,000 lines of ~150 bytes are several 64 KiB batches: those left before the timer.
    expect(chunks.length).toBeGreaterThan(5)
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    expect(lines().map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(
      Array.from({ length: n }, (_, i) => `r-${i}`),
    )
  })

  it('writes no access line below its level, and a 5xx at error level', () => {
    vi.useFakeTimers()
    const { logger, lines } = batched('warn')
    writeAccessLog(logger, 'r-1', 'GET', '/a', 200, 1, undefined)
    ;(logger.logAccess as NonNullable<Logger['logAccess']>)(
      'info',
      'r-2',
      'GET',
      '/b',
      200,
      1,
      undefined,
    )
    writeAccessLog(logger, 'r-3', 'GET', '/c', 503, 1, 'upstream_unavailable')
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    expect(lines().map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'error', requestId: 'r-3', status: 503 }),
    ])
  })

  it("is what an app's requests log through, the same lines as the string path", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const { logger, lines } = batched()
    const plain: string[] = []
    const apps = [logger, createJsonLogger({ write: (l) => plain.push(l) })].map((log) =>
      createApp({
        role: 'edge',
        verifier: { verify: () => Promise.reject(new Error('unused')) } as never,
        logger: log,
        extend: (app) => app.get('/plain', (c) => c.text('ok')),
      }),
    )
    for (const app of apps) {
      await app.request('/plain', { headers: { 'X-Request-Id': 'r-1' } })
      await app.request('/a%22b%0A', { headers: { 'X-Request-Id': 'r-2' } })
      await app.request('/verify', { method: 'POST', headers: { 'X-Request-Id': 'r-3' } })
    }
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    const fields = ({ time: _t, durationMs: _d, ...rest }: Record<string, unknown>) => rest
    const strip = (l: string) => fields(JSON.parse(l) as Record<string, unknown>)
    expect(lines().map(strip)).toEqual(plain.map(strip))
    expect(lines()).toHaveLength(3)
  })
})

/**
 * A batched writer on a child's stdin, as on stdout: its descriptor, its queue and state, and its
 * `write`, which counts what goes through the stream (`viaStream`) instead of the descriptor.
 */
function writerOnStdinOf(child: ChildProcess, options: LineBatchOptions = {}) {
  const stdin = child.stdin as NonNullable<ChildProcess['stdin']> & { _handle: { fd: number } }
  const viaStream: number[] = []
  const write = batchedLineWriter(
    {
      fd: stdin._handle.fd,
      get writableLength() {
        return stdin.writableLength
      },
      get writable() {
        return stdin.writable
      },
      write: (chunk: string | Uint8Array) => (viaStream.push(chunk.length), stdin.write(chunk)),
    },
    options,
  )
  return { stdin, viaStream, write }
}

/**
 * A `cat` of its stdin that starts reading only when `start()` is called, so the pipe to it fills
 * first however slowly this process writes. `remove()` deletes its start file.
 */
function lateReader() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-log-'))
  const go = join(dir, 'go')
  const child = spawn('sh', ['-c', 'while [ ! -e "$GO" ]; do sleep 0.02; done; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, GO: go },
  })
  return {
    child,
    start: () => writeFileSync(go, ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

describe('batchedLineWriter on a stream with a file descriptor (stdout)', () => {
  it('writes batches to the descriptor, behind what the stream has queued', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-log-'))
    const file = join(dir, 'out.log')
    const out = createWriteStream(file)
    await once(out, 'open')
    const viaStream: number[] = []
    const stream = {
      fd: (out as typeof out & { fd: number }).fd,
      get writableLength() {
        return out.writableLength
      },
      write: (chunk: string | Uint8Array) => (viaStream.push(chunk.length), out.write(chunk)),
    }
    const write = batchedLineWriter(stream)
    const line = 'x'.repeat(1023)
    // Nothing queued: the 64 KiB batch goes to the descriptor, not through the stream.
    for (let i = 0; i < 64; i++) write(`a${line.slice(1)}`)
    expect(viaStream).toEqual([])
    expect(readFileSync(file, 'utf8')).toBe(`a${line.slice(1)}\n`.repeat(64))
    // The stream has a write of its own queued: the next batch waits for it, then goes.
    out.write('queued\n')
    for (let i = 0; i < 64; i++) write(`b${line.slice(1)}`)
    const expected =
      `a${line.slice(1)}\n`.repeat(64) + 'queued\n' + `b${line.slice(1)}\n`.repeat(64)
    await vi.waitFor(() => expect(readFileSync(file, 'utf8')).toBe(expected), {
      timeout: 20_000,
      interval: 20,
    })
    expect(viaStream).toEqual([])
    await new Promise<void>((resolve) => out.end(resolve))
    rmSync(dir, { recursive: true })
  })

  it('keeps what a full pipe does not take and writes it, in order, as the reader takes it', async () => {
    // A reader that starts late: the pipe fills and the descriptor refuses the rest (EAGAIN).
    const { child, start, remove } = lateReader()
    const lines = Array.from({ length: 30_000 }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(60)}"}`)
    const expected = lines.map((line) => `${line}\n`).join('')
    let received = ''
    const all = new Promise<void>((resolve) =>
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        received += chunk
        if (received.length >= expected.length) resolve()
      }),
    )
    const { stdin, viaStream, write } = writerOnStdinOf(child)
    for (const line of lines) write(line)
    // More than a pipe holds was written before the reader started: the rest waits with the sink.
    expect(received).toBe('')
    start()
    await all
    stdin.end()
    await once(child, 'exit')
    expect(received).toBe(expected)
    expect(viaStream).toEqual([])
    remove()
  })

  it('keeps at most maxPendingBytes for a stalled reader, drops and counts the rest, and says so once it catches up', async () => {
    // A reader that starts late: the pipe fills, the sink keeps up to its limit, the rest is dropped.
    const { child, start, remove } = lateReader()
    const lines = Array.from({ length: 20_000 }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(60)}"}`)
    let received = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
    const droppedBefore = droppedLogLines()
    const limit = 256 * 1024
    const { stdin, viaStream, write } = writerOnStdinOf(child, { maxPendingBytes: limit })
    for (const line of lines) write(line)
    // ~1.5 MB written before the reader started: what neither the pipe nor the limit held is gone.
    const dropped = droppedLogLines() - droppedBefore
    expect(dropped).toBeGreaterThan(0)
    start()
    await vi.waitFor(() => expect(received).toContain('"msg":"log lines dropped'), {
      timeout: 20_000,
    })
    stdin.end()
    await once(child, 'exit')
    const got = received
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as { n?: number; level?: string; dropped?: number })
    const warning = got.at(-1)
    const kept = got.slice(0, -1)
    expect(warning).toMatchObject({ level: 'warn', dropped })
    expect(kept.length + dropped).toBe(lines.length)
    // Whole lines of what was written, in order, none twice; no more than the pipe (64 KiB),
    // the limit and one batch (80 KiB) held.
    const numbers = kept.map((line) => line.n as number)
    expect(numbers).toEqual([...new Set(numbers)].sort((a, b) => a - b))
    expect(kept.map((line) => JSON.stringify(line))).toEqual(numbers.map((n) => lines[n]))
    expect(Buffer.byteLength(received)).toBeLessThan(64 * 1024 + limit + 80 * 1024 + 200)
    expect(viaStream).toEqual([])
    // The origin's /metrics counts every line this process dropped.
    const text = await createMetrics().registry.metrics()
    expect(/^gatehouse_log_lines_dropped_total (\d+)$/m.exec(text)?.[1]).toBe(
      String(droppedLogLines()),
    )
    remove()
  })

  it('hands the rest to the stream when the reader is gone (EPIPE), which reports it', async () => {
    // A reader that closes its end, says so, and stays: writes to the pipe then fail with EPIPE.
    const child = spawn('sh', ['-c', 'exec 0<&-; echo closed; exec sleep 5'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    child.stdout.on('error', () => {})
    await once(child.stdout, 'data')
    const { stdin, viaStream, write } = writerOnStdinOf(child)
    const failed = once(stdin, 'error')
    // Later errors of the dead pipe (a reset) are not this test's.
    stdin.on('error', () => {})
    // Three batches of 64 KiB leave while these are written; the first meets the closed pipe.
    for (let i = 0; i < 3000; i++) write(`{"n":${i},"pad":"${'p'.repeat(60)}"}`)
    expect(viaStream.length).toBeGreaterThan(0)
    const [err] = (await failed) as [NodeJS.ErrnoException]
    expect(err.code).toBe('EPIPE')
    // The failed stream closed its descriptor (its number may be another file's by now): the
    // lines still pending go to the stream, not to that number.
    const before = viaStream.length
    write('{"after":true}')
    await vi.waitFor(() => expect(viaStream.length).toBe(before + 1), { timeout: 20_000 })
    child.kill()
  })
})

/** Runs `source` as a Node process (stdout a pipe), returns its stdout once it has exited. */
async function stdoutOf(source: string, signal?: NodeJS.Signals): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', source],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  let signalled = false
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    out += chunk
    // The child says when its lines are written (and still pending in the batch); signalled once.
    if (signal !== undefined && !signalled && out.includes('"ready"')) {
      signalled = true
      child.kill(signal)
    }
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  expect(code).toBe(0)
  return out
}

const sink = new URL('../../../src/entry/node-log-sink.ts', import.meta.url).href
const access = new URL('../../../src/http/request-log.ts', import.meta.url).href

/**
 * Runs `source` in a Node process with `logger = createNodeLogger('info')`, then `process.exit(0)`.
 * Its stdout (a pipe) is read only once the child says on stderr that `source` has run, so the
 * pipe is full (for more than 64 KiB of lines) and the child waits at exit for this reader.
 */
async function stdoutReadAfterWriting(source: string): Promise<Buffer> {
  const child = spawn(
    process.execPath,
    [
      '--experimental-strip-types',
      '--no-warnings',
      '--input-type=module',
      '-e',
      `import { createNodeLogger } from '${sink}'
      const logger = createNodeLogger('info')
      ${source}
      process.stderr.write('written\\n', () => process.exit(0))`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  child.stdout.pause()
  await once(child.stderr, 'data')
  const chunks: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  child.stdout.resume()
  const [code] = (await once(child, 'close')) as [number | null]
  expect(code).toBe(0)
  return Buffer.concat(chunks)
}

describe('createNodeLogger on a real stdout pipe', () => {
  // Lines pending in the batch (FLUSH_DELAY_MS has not passed) when the process ends.
  const lines = Array.from({ length: 2000 }, (_, i) => i)
  const logLines = `
    import { createNodeLogger } from '${sink}'
    const logger = createNodeLogger('info')
    import { writeAccessLog } from '${access}'
    for (const n of ${JSON.stringify(lines)}) {
      logger.log({ level: 'info', msg: 'line', n, path: '/ü' })
      writeAccessLog(logger, 'r-' + n, 'GET', '/ü/' + n, 200, 0.25, undefined)
    }
  `
  /** The numbers of the lines and access lines, in the order written: n, then r-n, per n. */
  const numbers = (out: string) =>
    out
      .split('\n')
      .filter((line) => line.includes('"msg":"line"') || line.includes('"msg":"request"'))
      .map((line) => {
        const parsed = JSON.parse(line) as { n?: number; requestId?: string }
        return parsed.n ?? `r-${Number(parsed.requestId?.slice(2))}`
      })
  const written = lines.flatMap((n) => [n, `r-${n}`])

  it('loses no line and keeps their order when the process exits', async () => {
    const out = await stdoutOf(`${logLines}\nprocess.exit(0)`)
    expect(numbers(out)).toEqual(written)
    expect(out).toContain('"path":"/ü"')
  })

  it('loses no line at exit when the reader is slower than the pipe fills (a full pipe)', async () => {
    const many = Array.from({ length: 4000 }, (_, i) => i)
    const out = await stdoutReadAfterWriting(
      `for (const n of ${JSON.stringify(many)}) logger.log({ level: 'info', msg: 'line', n, pad: '${'p'.repeat(100)}' })`,
    )
    expect(numbers(out.toString('utf8'))).toEqual(many)
  })

  it('keeps MAX_PENDING_BYTES for a reader stalled past them, and at exit says how many it dropped', async () => {
    const count = 100_000 // ~26 MB of lines: more than the pipe and MAX_PENDING_BYTES hold
    const out = await stdoutReadAfterWriting(
      `const pad = '${'p'.repeat(200)}'
      for (let n = 0; n < ${count}; n++) logger.log({ level: 'info', msg: 'line', n, pad })`,
    )
    // What the process kept (the limit and one batch of 80 KiB), plus the pipe's 64 KiB and what
    // this side's stream read before its pause took effect (up to its high-water mark and one more
    // read, more under load): a margin of 1 MiB, against the ~26 MB written.
    expect(out.length).toBeLessThan(MAX_PENDING_BYTES + 1024 * 1024)
    const got = out
      .toString('utf8')
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as { n?: number; msg: string; dropped?: number })
    const warning = got.at(-1)
    const kept = got.slice(0, -1).map((line) => line.n as number)
    expect(kept.length).toBeGreaterThan(0)
    expect(kept).toEqual([...new Set(kept)].sort((a, b) => a - b))
    expect(warning).toMatchObject({ level: 'warn', dropped: count - kept.length })
  })

  it('loses no line and keeps their order on SIGTERM handled as npm start does (exit)', async () => {
    const out = await stdoutOf(
      `${logLines}
      process.once('SIGTERM', () => process.exit(0))
      // Written past the batch, so the parent sees it while the lines above are still pending.
      process.stdout.write('"ready"\\n')
      setInterval(() => {}, 1000)`,
      'SIGTERM',
    )
    expect(numbers(out)).toEqual(written)
  })
})
