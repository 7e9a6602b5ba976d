/**
 * Where the Node origin's log lines go: stdout, batched. `console.log` per line costs a write system
 * call (and console's own formatting) per request; under load that was the largest part of the access
 * log (issue 15). Lines leave together at most `FLUSH_DELAY_MS` after the first of them was written,
 * or at once when 64 KiB are pending; whatever is pending when the process exits is written
 * synchronously by the `exit` handler (stdout writes to pipes and files are synchronous on POSIX), so
 * `process.exit` after a fatal error loses nothing, nor does `npm start`'s SIGTERM/SIGINT shutdown,
 * which ends in `process.exit` (node.ts). Only a kill that runs no handler (SIGKILL, a crash of the
 * runtime) can lose the last lines (at most `FLUSH_DELAY_MS` of them).
 *
 * Why a delay rather than the end of each event-loop turn: below saturation a turn answers one or two
 * requests, so a write per turn was a system call (and a wake-up of the log reader) per request,
 * several µs each on a request whose whole cost is ~25 µs.
 */
import { writeSync } from 'node:fs'
import { createJsonLogger, type LogLevel, type Logger } from '../http/log.ts'

/** Bytes of a batch that make it leave at once. */
const BATCH_BYTES = 64 * 1024

/** Room past `BATCH_BYTES`, so the line that fills a batch still fits in its buffer. */
const BATCH_CAPACITY = BATCH_BYTES + 16 * 1024

/** The longest a line waits for its batch to leave. */
export const FLUSH_DELAY_MS = 10

/** A stream the batch writes to; `fd` and `writableLength` where it has them (stdout). */
type LineStream = Pick<NodeJS.WritableStream, 'write'> & { fd?: unknown; writableLength?: number }

/**
 * The lines waiting to leave for one stream, encoded (UTF-8) in the batch's buffer. Each batch adds
 * one `exit` listener: make one per stream (`createNodeLogger` shares one for stdout).
 *
 * A stream with a file descriptor (stdout) is written with `fs.writeSync` on it, one system call
 * and the same buffer again for the next batch, whenever the stream has nothing queued itself:
 * through the stream each batch went through Node's stream machinery (never optimised: it runs ~100
 * times a second) and needed a new 80 KiB buffer, ~50–100 µs a batch here (issue 15, round 10).
 * What the descriptor does not take at once (a full pipe: `EAGAIN`), and every write while the
 * stream has a queue, goes through the stream, which keeps the order.
 */
class LineBatch {
  /** The batch's buffer. */
  #buffer = Buffer.allocUnsafeSlow(BATCH_CAPACITY)
  /** Bytes of `#buffer` in use. */
  #used = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #stream: LineStream
  readonly #fd: number | undefined

  constructor(stream: LineStream) {
    this.#stream = stream
    this.#fd = typeof stream.fd === 'number' ? stream.fd : undefined
    process.on('exit', this.flush)
  }

  /** Writes what is pending, now. */
  readonly flush = (): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#used === 0) return
    const written =
      this.#fd !== undefined && (this.#stream.writableLength ?? 0) === 0
        ? writeToFd(this.#fd, this.#buffer, this.#used)
        : 0
    if (written === this.#used) {
      this.#used = 0
      return
    }
    // A new buffer for the next batch: the stream may hold on to this one until it is written.
    const chunk = this.#buffer.subarray(written, this.#used)
    this.#buffer = Buffer.allocUnsafeSlow(BATCH_CAPACITY)
    this.#used = 0
    this.#stream.write(chunk)
  }

  /** After a line and its newline are in the buffer: the batch leaves when full, else on time. */
  #end(): void {
    if (this.#used >= BATCH_BYTES) this.flush()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.flush, FLUSH_DELAY_MS)
      // Pending lines do not keep the process alive; `exit` writes them.
      this.#timer.unref()
    }
  }

  /** One line given as a string (without its newline). */
  line(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; the exact length only when that is too much.
    if (line.length * 3 + 1 > BATCH_CAPACITY - this.#used) {
      const bytes = Buffer.byteLength(line) + 1
      if (bytes > BATCH_CAPACITY - this.#used) this.flush()
      if (bytes > BATCH_CAPACITY) {
        this.#stream.write(`${line}\n`)
        return
      }
    }
    this.#used += this.#buffer.write(line, this.#used)
    this.#buffer[this.#used++] = 0x0a // '\n'
    this.#end()
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
export function batchedLineWriter(stream: LineStream): (line: string) => void {
  const batch = new LineBatch(stream)
  return (line) => batch.line(line)
}

/**
 * Writes `bytes[0, n)` to `fd` as far as it goes now; returns how many bytes went. A full pipe
 * (`EAGAIN`) or any error ends it early: the caller writes the rest through the stream, which
 * queues it or reports the error as before.
 */
function writeToFd(fd: number, bytes: Buffer, n: number): number {
  let written = 0
  try {
    while (written < n) written += writeSync(fd, bytes, written, n - written)
  } catch {
    // The stream takes the rest (and meets the same error, if it is one).
  }
  return written
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

let stdoutWriter: ((line: string) => void) | undefined
let stdoutClock: (() => number) | undefined

/**
 * The Node origin's logger: JSON lines at `level` and above, batched to stdout (one writer for the
 * process, however many servers it starts), timed by `wallClock`.
 *
 * @example const logger = createNodeLogger('info')
 */
export function createNodeLogger(level: LogLevel): Logger {
  stdoutWriter ??= batchedLineWriter(process.stdout)
  stdoutClock ??= wallClock()
  return createJsonLogger({ level, write: stdoutWriter, now: stdoutClock })
}
