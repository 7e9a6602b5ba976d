/**
 * The Node origin's log sink batches lines into one write FLUSH_DELAY_MS after the first of them,
 * never holds more than 64 KiB back, keeps their order and their bytes (UTF-8), and loses none when
 * the process exits, also through a SIGTERM handler that exits as `npm start`'s does.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  batchedLineWriter,
  FLUSH_DELAY_MS,
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

describe('batchedLineWriter on a stream with a file descriptor (stdout)', () => {
  it('writes batches to the descriptor, and through the stream while the stream has a queue', async () => {
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
    // The stream has a write of its own queued: the next batch must follow it, through the stream.
    out.write('queued\n')
    for (let i = 0; i < 64; i++) write(`b${line.slice(1)}`)
    expect(viaStream).toEqual([64 * 1024])
    await new Promise<void>((resolve) => out.end(resolve))
    const text = readFileSync(file, 'utf8')
    rmSync(dir, { recursive: true })
    expect(text).toBe(
      `a${line.slice(1)}\n`.repeat(64) + 'queued\n' + `b${line.slice(1)}\n`.repeat(64),
    )
  })

  it('hands what a full pipe does not take to the stream, in order', async () => {
    // A reader that starts late: the pipe fills and the descriptor refuses the rest (EAGAIN).
    const child = spawn('sh', ['-c', 'sleep 0.3; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let received = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
    const stdin = child.stdin as typeof child.stdin & { _handle: { fd: number } }
    const viaStream: number[] = []
    const write = batchedLineWriter({
      fd: stdin._handle.fd,
      get writableLength() {
        return stdin.writableLength
      },
      write: (chunk: string | Uint8Array) => (viaStream.push(chunk.length), stdin.write(chunk)),
    })
    const lines = Array.from({ length: 30_000 }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(60)}"}`)
    for (const line of lines) write(line)
    expect(viaStream.length).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 3 * FLUSH_DELAY_MS))
    stdin.end()
    await once(child, 'exit')
    expect(received).toBe(lines.map((line) => `${line}\n`).join(''))
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

describe('createNodeLogger on a real stdout pipe', () => {
  // Lines pending in the batch (FLUSH_DELAY_MS has not passed) when the process ends.
  const lines = Array.from({ length: 2000 }, (_, i) => i)
  const logLines = `
    import { createNodeLogger } from '${sink}'
    const logger = createNodeLogger('info')
    for (const n of ${JSON.stringify(lines)}) logger.log({ level: 'info', msg: 'line', n, path: '/ü' })
  `
  const numbers = (out: string) =>
    out
      .split('\n')
      .filter((line) => line.includes('"msg":"line"'))
      .map((line) => (JSON.parse(line) as { n: number; path: string }).n)

  it('loses no line and keeps their order when the process exits', async () => {
    const out = await stdoutOf(`${logLines}\nprocess.exit(0)`)
    expect(numbers(out)).toEqual(lines)
    expect(out).toContain('"path":"/ü"')
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
    expect(numbers(out)).toEqual(lines)
  })
})
