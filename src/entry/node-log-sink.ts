/**
 * Where the Node origin's log lines go: stdout, batched. `console.log` per line costs a write system
 * call (and console's own formatting) per request; under load that was the largest part of the access
 * log (issue 15). Lines written in one turn of the event loop leave together, at the end of that turn
 * (`setImmediate`) or once 64 KiB are pending, and whatever is pending when the process exits is
 * written synchronously by the `exit` handler, so `process.exit` after a fatal error loses nothing.
 * Only a kill that runs no handler (SIGKILL, a crash of the runtime) can lose the last turn's lines.
 */
import { createJsonLogger, type LogLevel, type Logger } from '../http/log.ts'

/** Pending bytes that make a batch leave before the end of the turn. */
const MAX_PENDING_CHARS = 64 * 1024

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
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending === '') return
    const chunk = pending
    pending = ''
    stream.write(chunk)
  }
  process.on('exit', flush)
  return (line) => {
    pending += `${line}\n`
    if (pending.length >= MAX_PENDING_CHARS) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
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
