/**
 * Where the Node origin's log lines go: stdout, batched. `console.log` per line costs a write system
 * call (and console's own formatting) per request; under load that was the largest part of the access
 * log (issue 15). Lines leave together at most `FLUSH_DELAY_MS` after the first of them was written,
 * or at once when 64 KiB are pending; whatever is pending when the process exits is written
 * synchronously by the `exit` handler, waiting for the reader of a full pipe (up to
 * `EXIT_WRITE_TIMEOUT_MS`: Node's own stdout stream drops what it still queues at exit), so
 * `process.exit` after a fatal error loses nothing, nor does `npm start`'s SIGTERM/SIGINT shutdown,
 * which ends in `process.exit` (node.ts). Only a kill that runs no handler (SIGKILL, a crash of the
 * runtime) can lose the last lines (at most `FLUSH_DELAY_MS` of them), or a reader stalled at exit.
 * A reader more than `MAX_PENDING_BYTES` behind loses lines by design: they are dropped and counted
 * rather than held without bound.
 *
 * Why a delay rather than the end of each event-loop turn: below saturation a turn answers one or two
 * requests, so a write per turn was a system call (and a wake-up of the log reader) per request,
 * several µs each on a request whose whole cost is ~25 µs.
 */
import { writeSync } from 'node:fs'
import {
  createJsonLogger,
  isoTimeFormat,
  type AccessLogWriter,
  type LogLevel,
  type Logger,
} from '../http/log.ts'
import { accessLogMembers } from '../http/request-log.ts'

/** Bytes of a batch that make it leave at once. */
const BATCH_BYTES = 64 * 1024

/** Room past `BATCH_BYTES`, so the line that fills a batch still fits in its buffer. */
const BATCH_CAPACITY = BATCH_BYTES + 16 * 1024

/** The longest a line waits for its batch to leave. */
export const FLUSH_DELAY_MS = 10

/** The longest the `exit` handler waits for a full pipe to take the last lines. */
export const EXIT_WRITE_TIMEOUT_MS = 5000

/** The most bytes a pipe writes whole or not at all (POSIX `PIPE_BUF`; 4,096 on Linux). */
const PIPE_BUF = 4096

/** What the `exit` handler waits on between tries at a full pipe (`Atomics.wait`, 1 ms). */
const READER_WAIT = new Int32Array(new SharedArrayBuffer(4))

/** Access log entries held as fields before their lines are built (see `LineBatch.access`). */
const ENTRIES = 256

/**
 * The most bytes of lines a batch keeps for a log reader that has fallen behind (a full pipe): past
 * it, the lines of each further batch are dropped instead of kept, so the process's memory stays
 * bounded however long the reader stalls (a wedged log shipper must not run the origin out of
 * memory). Dropped lines are counted (`droppedLogLines`, `gatehouse_log_lines_dropped_total`), and
 * once the reader has taken everything kept, one `warn` line says how many were dropped.
 */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024

/** Lines dropped by every batch of this process so far (`MAX_PENDING_BYTES`). */
let droppedTotal = 0

/**
 * How many log lines this process has dropped because its log reader fell more than
 * `MAX_PENDING_BYTES` behind (the counter behind `gatehouse_log_lines_dropped_total`).
 *
 * @example droppedLogLines() // 0 while the reader keeps up
 */
export function droppedLogLines(): number {
  return droppedTotal
}

/** Options of a batch; the default is what the origin runs with. */
export interface LineBatchOptions {
  /** Bytes kept for a reader that has fallen behind (`MAX_PENDING_BYTES`). */
  maxPendingBytes?: number
}

/** A stream the batch writes to; `fd` and `writableLength` where it has them (stdout). */
type LineStream = Pick<NodeJS.WritableStream, 'write'> & {
  fd?: unknown
  writableLength?: number
  /** False once the stream has ended or failed: its descriptor may be closed, its number reused. */
  writable?: boolean
}

/**
 * The lines waiting to leave for one stream, encoded (UTF-8) in the batch's buffer. Each batch adds
 * one `exit` listener: make one per stream (`createNodeLogger` shares one for stdout).
 *
 * A stream with a file descriptor (stdout) is written with `fs.writeSync` on it, a system call per
 * 4 KiB of whole lines (`#drain`) and the same buffer again for the next batch, whenever the stream
 * has nothing queued itself: through the stream each batch went through Node's stream machinery
 * (never optimised: it runs ~100 times a second) and needed a new 80 KiB buffer, ~50–100 µs a batch
 * here (issue 15, round 10). What the descriptor does not take at once (a full pipe: `EAGAIN`)
 * waits in the batch for the next try, behind anything the stream has queued (`#drain`), up to
 * `MAX_PENDING_BYTES`; further batches are then dropped and counted until the reader catches up.
 */
class LineBatch {
  /** The batch's buffer. */
  #buffer = Buffer.allocUnsafeSlow(BATCH_CAPACITY)
  /** Bytes of `#buffer` in use. */
  #used = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #stream: LineStream
  readonly #fd: number | undefined
  /** Access log entries not yet built into lines, as columns (`access`); `#entries` of them. */
  #entries = 0
  readonly #times = new Float64Array(ENTRIES)
  readonly #statuses = new Uint16Array(ENTRIES)
  readonly #durations = new Float64Array(ENTRIES)
  readonly #levels: ('info' | 'error')[] = new Array(ENTRIES).fill('info')
  readonly #ids: string[] = new Array(ENTRIES).fill('')
  readonly #methods: string[] = new Array(ENTRIES).fill('')
  readonly #paths: string[] = new Array(ENTRIES).fill('')
  readonly #errors: (string | undefined)[] = new Array(ENTRIES).fill(undefined)
  readonly #iso = isoTimeFormat()
  /** Bytes a full pipe did not take yet, in order (`#drain`); written before any later batch. */
  readonly #spill: Buffer[] = []
  /** Bytes in `#spill`. */
  #spillBytes = 0
  /** Lines dropped since the last `warn` line about them (`MAX_PENDING_BYTES`). */
  #dropped = 0
  readonly #maxPending: number
  #retry: ReturnType<typeof setTimeout> | undefined
  /** Set by the `exit` handler: writes then wait for the pipe instead of leaving bytes queued. */
  #exiting = false

  constructor(stream: LineStream, options: LineBatchOptions = {}) {
    this.#stream = stream
    this.#maxPending = options.maxPendingBytes ?? MAX_PENDING_BYTES
    this.#fd = typeof stream.fd === 'number' ? stream.fd : undefined
    process.on('exit', this.#flushAtExit)
  }

  /** Writes what is pending, now. */
  readonly flush = (): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#buildEntries()
    this.#write()
  }

  /**
   * At exit: everything pending, to the descriptor, waiting out a full pipe (up to
   * `EXIT_WRITE_TIMEOUT_MS`): Node writes nothing a stream still queues once the process exits.
   */
  readonly #flushAtExit = (): void => {
    this.#exiting = true
    this.flush()
    if (this.#spill.length > 0) this.#drain()
    if (this.#dropped > 0 && this.#spill.length === 0) {
      this.#put(this.#droppedLine())
      this.#write()
    }
  }

  /**
   * Writes the buffer's lines: to the descriptor when the stream has nothing queued (a `write` of
   * someone else's goes first: the stream keeps the order), behind any lines a full pipe left over.
   */
  #write(): void {
    if (this.#used === 0) return
    if (this.#fd === undefined || this.#stream.writable === false) {
      this.#stream.write(this.#take())
      return
    }
    // A view of the batch: when the descriptor takes all of it now (or the reader is too far
    // behind and the lines are dropped), the buffer is used again.
    if (!this.#spillOrDrop(this.#buffer.subarray(0, this.#used)) || this.#drain()) this.#used = 0
    else this.#take() // the view stays with the spill or the stream
  }

  /**
   * Puts `chunk` (whole lines) behind what a full pipe left over, or drops it and counts its lines
   * when the reader is already behind and the spill would pass `#maxPending`. Returns whether it was
   * kept.
   */
  #spillOrDrop(chunk: Buffer): boolean {
    if (this.#spill.length > 0 && this.#spillBytes + chunk.length > this.#maxPending) {
      let lines = 0
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) lines++
      this.#dropped += lines
      droppedTotal += lines
      return false
    }
    this.#spill.push(chunk)
    this.#spillBytes += chunk.length
    return true
  }

  /** The `warn` line about the lines dropped since the last one (`MAX_PENDING_BYTES`). */
  #droppedLine(): string {
    const line = `{"time":"${this.#iso(Date.now())}","level":"warn","msg":"log lines dropped: the log reader fell behind","dropped":${this.#dropped}}`
    this.#dropped = 0
    return line
  }

  /** The buffer's bytes; the batch goes on in a new buffer (the stream may hold on to this one). */
  #take(): Buffer {
    const chunk = this.#buffer.subarray(0, this.#used)
    this.#buffer = Buffer.allocUnsafeSlow(BATCH_CAPACITY)
    this.#used = 0
    return chunk
  }

  /**
   * Writes the pending lines (`#spill`) to the descriptor, in order, in pieces of whole lines of at
   * most `PIPE_BUF` bytes: a pipe takes such a write whole or not at all, so a full pipe never cuts
   * a line that another writer could then come between. What a full pipe does not take waits for
   * the next try, `FLUSH_DELAY_MS` later — at exit for the reader (1 ms at a time, up to
   * `EXIT_WRITE_TIMEOUT_MS`), since Node writes nothing a stream still queues once the process
   * exits. While the stream has a queue of its own (someone else's `write`), lines wait behind it,
   * except at exit. A descriptor that cuts a line anyway (a line longer than `PIPE_BUF`, a socket)
   * or fails (the reader is gone: `EPIPE`), and a stream that has ended or failed, get everything
   * left through the stream: it keeps the order and reports the error as before. Returns whether
   * the descriptor took everything now (nothing is left, nothing went to the stream).
   */
  #drain(): boolean {
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    this.#retry = undefined
    const fd = this.#fd as number
    const spill = this.#spill
    let deadline = Number.NaN
    while (spill.length > 0) {
      if (this.#stream.writable === false) {
        this.#toStream()
        return false
      }
      if (!this.#exiting && (this.#stream.writableLength ?? 0) > 0) break
      const chunk = spill[0] as Buffer
      const end = pieceEnd(chunk)
      let written: number
      try {
        written = writeSync(fd, chunk, 0, end)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
          this.#toStream()
          return false
        }
        // A full pipe.
        if (!this.#exiting) break
        deadline = Number.isNaN(deadline) ? performance.now() + EXIT_WRITE_TIMEOUT_MS : deadline
        if (performance.now() >= deadline) return false
        Atomics.wait(READER_WAIT, 0, 0, 1)
        continue
      }
      this.#spillBytes -= written
      if (written === chunk.length) spill.shift()
      else spill[0] = chunk.subarray(written)
      if (written < end) {
        // Cut inside a piece: its rest must follow at once, which the stream's order ensures.
        this.#toStream()
        return false
      }
    }
    if (spill.length === 0) {
      // The reader has caught up: say what it missed, with the next batch (not from inside a write).
      // (A second call before it runs finds nothing left to report.)
      if (this.#dropped > 0 && !this.#exiting)
        setImmediate(() => {
          if (this.#dropped > 0) this.line(this.#droppedLine())
        })
      return true
    }
    this.#retry = setTimeout(() => this.#drain(), FLUSH_DELAY_MS)
    this.#retry.unref()
    return false
  }

  /** Everything left over, through the stream, in order. */
  #toStream(): void {
    this.#spillBytes = 0
    for (const rest of this.#spill.splice(0)) this.#stream.write(rest)
  }

  /** After lines are in the buffer: the batch leaves when full, else on time. */
  #end(): void {
    if (this.#used >= BATCH_BYTES) this.flush()
    else this.#schedule()
  }

  #schedule(): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.flush, FLUSH_DELAY_MS)
      // Pending lines do not keep the process alive; `exit` writes them.
      this.#timer.unref()
    }
  }

  /** One line given as a string (without its newline), after the access entries before it. */
  line(line: string): void {
    this.#buildEntries()
    this.#put(line)
    this.#end()
  }

  /**
   * One access log line, given as its fields (`Logger.logAccess`) and the wall-clock `time` of its
   * writing: kept as they are and built into its line (`accessLogMembers`) with the others of its
   * batch — when the batch leaves, when `ENTRIES` are held, or before any other line is written, so
   * the order of lines is the order of writing.
   *
   * Why (issue 15, round 14): the same line costs ~0.7 µs to build and encode in a tight loop but
   * ~4 µs between HTTP requests, whose work evicts its code and data from the caches; built a batch
   * at a time, the per-request path only stores seven values.
   */
  access(
    time: number,
    level: 'info' | 'error',
    requestId: string,
    method: string,
    path: string,
    status: number,
    durationMs: number,
    errorCode: string | undefined,
  ): void {
    const i = this.#entries++
    this.#times[i] = time
    this.#levels[i] = level
    this.#ids[i] = requestId
    this.#methods[i] = method
    this.#paths[i] = path
    this.#statuses[i] = status
    this.#durations[i] = durationMs
    this.#errors[i] = errorCode
    if (this.#entries === ENTRIES) {
      this.#buildEntries()
      this.#end()
    } else this.#schedule()
  }

  /** Builds the held access entries into the buffer, in order, and lets go of their strings. */
  #buildEntries(): void {
    const n = this.#entries
    if (n === 0) return
    this.#entries = 0
    const ids = this.#ids
    const paths = this.#paths
    const errors = this.#errors
    for (let i = 0; i < n; i++) {
      this.#put(
        `{"time":"${this.#iso(this.#times[i] as number)}",${accessLogMembers(
          this.#levels[i] as 'info' | 'error',
          ids[i] as string,
          this.#methods[i] as string,
          paths[i] as string,
          this.#statuses[i] as number,
          this.#durations[i] as number,
          errors[i],
        )}}`,
      )
      ids[i] = ''
      paths[i] = ''
      errors[i] = undefined
    }
  }

  /** Puts one line and its newline into the buffer (writing the buffer first when it has no room). */
  #put(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; the exact length only when that is too much.
    if (line.length * 3 + 1 > BATCH_CAPACITY - this.#used) {
      const bytes = Buffer.byteLength(line) + 1
      if (bytes > BATCH_CAPACITY - this.#used) this.#write()
      if (bytes > BATCH_CAPACITY) {
        // On its own, behind what a full pipe left over, if anything.
        if (this.#fd === undefined || this.#stream.writable === false) {
          this.#stream.write(`${line}\n`)
        } else if (this.#spillOrDrop(Buffer.from(`${line}\n`))) this.#drain()
        return
      }
    }
    this.#used += this.#buffer.write(line, this.#used)
    this.#buffer[this.#used++] = 0x0a // '\n'
  }
}

/**
 * A `write` for `createJsonLogger` that batches lines to `stream`. Each writer adds one `exit`
 * listener: make one per stream (`createNodeLogger` shares one for stdout).
 *
 * Each line is encoded (UTF-8) into the batch's buffer when it is written, not kept as a string
 * until the batch leaves (round 7, issue 15): a batch kept as one concatenated string is a rope of
 * a few thousand pieces that the write to a pipe walks and flattens (measured ~2.1–2.5 µs a line
 * with stdout a pipe, against ~0.7–0.8 µs encoded at once), and its lines outlive the young
 * generation's collections. A line too long for a batch is written on its own, after the batch
 * before it: order is kept.
 *
 * @example const logger = createJsonLogger({ level: 'info', write: batchedLineWriter(process.stderr) })
 */
export function batchedLineWriter(
  stream: LineStream,
  options: LineBatchOptions = {},
): (line: string) => void {
  const batch = new LineBatch(stream, options)
  return (line) => batch.line(line)
}

/**
 * Where the first write of `chunk` (whole lines, each ending in a newline) ends: after the last line
 * that ends within `PIPE_BUF` bytes, or after the first line when that one is longer.
 */
function pieceEnd(chunk: Buffer): number {
  if (chunk.length <= PIPE_BUF) return chunk.length
  const last = chunk.lastIndexOf(0x0a, PIPE_BUF - 1)
  if (last >= 0) return last + 1
  const first = chunk.indexOf(0x0a, PIPE_BUF)
  return first < 0 ? chunk.length : first + 1
}

/** How often `wallClock` reads the system's wall clock again. */
export const WALL_CLOCK_RESYNC_MS = 1000

/**
 * `Date.now()` for the log lines' `time`, read from the monotonic clock (`performance.now()`, a
 * fast call) plus an offset to the wall clock that is read again every `WALL_CLOCK_RESYNC_MS`.
 *
 * Why (issue 15, round 9): `Date.now()` is a runtime call into V8 (~0.3 µs a line in a `perf`
 * profile of the origin's `/noop` at saturation), paid on every access log line; `performance.now()`
 * is not. Between two reads the two clocks can part only by the system clock's slew rate (NTP slews
 * at most 500 ppm: under 0.5 ms in a second); a step of the wall clock (NTP step, an operator's
 * `date`) shows within a second. The lines' times are given to the millisecond.
 *
 * @example createJsonLogger({ level: 'info', now: wallClock(), write })
 */
export function wallClock(
  monotonic: () => number = () => performance.now(),
  wall: () => number = Date.now,
): () => number {
  let resyncAt = Number.NEGATIVE_INFINITY
  let offset = 0
  return () => {
    const t = monotonic()
    if (t >= resyncAt) {
      offset = wall() - t
      resyncAt = t + WALL_CLOCK_RESYNC_MS
    }
    return offset + t
  }
}

/**
 * A JSON logger (`createJsonLogger`) at `level` whose lines are batched to `stream`, its access log
 * lines built a batch at a time (`Logger.logAccess`, `LineBatch.access`), timed by `now`. Each adds
 * one `exit` listener: make one per stream (`createNodeLogger` shares one for stdout).
 *
 * @example const logger = batchedJsonLogger(process.stderr, 'info', wallClock())
 */
export function batchedJsonLogger(stream: LineStream, level: LogLevel, now: () => number): Logger {
  return loggerOnBatch(new LineBatch(stream), level, now)
}

function loggerOnBatch(batch: LineBatch, level: LogLevel, now: () => number): Logger {
  const logger = createJsonLogger({ level, write: (line) => batch.line(line), now })
  const enabled = logger.enabled as NonNullable<Logger['enabled']>
  const logAccess: AccessLogWriter = (lvl, id, method, path, status, durationMs, errorCode) => {
    if (enabled(lvl)) batch.access(now(), lvl, id, method, path, status, durationMs, errorCode)
  }
  logger.logAccess = logAccess
  return logger
}

let stdoutBatch: LineBatch | undefined
let stdoutClock: (() => number) | undefined

/**
 * The Node origin's logger: JSON lines at `level` and above, batched to stdout (one batch for the
 * process, however many servers it starts), timed by `wallClock`.
 *
 * @example const logger = createNodeLogger('info')
 */
export function createNodeLogger(level: LogLevel): Logger {
  stdoutBatch ??= new LineBatch(process.stdout)
  stdoutClock ??= wallClock()
  return loggerOnBatch(stdoutBatch, level, stdoutClock)
}
