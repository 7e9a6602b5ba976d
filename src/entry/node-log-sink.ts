/**
 * Where the Node origin's log lines go: stdout, batched. `console.log` per line costs a write system
 * call (and console's own formatting) per request; under load that was the largest part of the access
 * log (issue 15). Lines leave together at most `FLUSH_DELAY_MS` after the first of them was written,
 * or at once when 64 KiB are pending; whatever is pending when the process exits is written
 * synchronously by the `exit` handler, so `process.exit` after a fatal error loses nothing. Only a
 * kill that runs no handler (SIGKILL, a crash of the runtime) can lose the last lines (at most
 * `FLUSH_DELAY_MS` of them).
 *
 * Why a delay rather than the end of each event-loop turn: below saturation a turn answers one or two
 * requests, so a write per turn was a system call (and a wake-up of the log reader) per request,
 * several µs each on a request whose whole cost is ~25 µs.
 */
import { createJsonLogger, type LogLevel, type Logger } from '../http/log.ts'

/** Pending bytes that make a batch leave at once. */
const MAX_PENDING_CHARS = 64 * 1024

/** The longest a line waits for its batch to leave. */
export const FLUSH_DELAY_MS = 10

/**
 * A `write` for `createJsonLogger` that batches lines to `stream`. Each writer adds one `exit`
 * listener: make one per stream (`createNodeLogger` shares one for stdout).
 *
 * @example const logger = createJsonLogger({ level: 'info', write: batchedLineWriter(process.stderr) })
 */
export function batchedLineWriter(
  stream: Pick<NodeJS.WritableStream, 'write'>,
): (line: string) => void {
  let pending = ''
  let timer: ReturnType<typeof setTimeout> | undefined
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (pending === '') return
    const chunk = pending
    pending = ''
    stream.write(chunk)
  }
  process.on('exit', flush)
  return (line) => {
    pending += `${line}\n`
    if (pending.length >= MAX_PENDING_CHARS) flush()
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_DELAY_MS)
      // Pending lines do not keep the process alive; `exit` writes them.
      timer.unref()
    }
  }
}

let stdoutWriter: ((line: string) => void) | undefined

/**
 * The Node origin's logger: JSON lines at `level` and above, batched to stdout (one writer for the
 * process, however many servers it starts).
 *
 * @example const logger = createNodeLogger('info')
 */
export function createNodeLogger(level: LogLevel): Logger {
  stdoutWriter ??= batchedLineWriter(process.stdout)
  return createJsonLogger({ level, write: stdoutWriter })
}
