/**
 * Structured logs: one JSON object per line. A `Logger` is injected through `createApp` deps so tests
 * can capture lines (and assert that a token never appears in them) and entries can pick the sink.
 */
import type { LogLevel } from '../core/config.ts'

export type { LogLevel }

/** One log record. Callers pass only safe fields: never a token, a header value, or a secret. */
export interface LogRecord {
  level: Exclude<LogLevel, 'silent'>
  msg: string
  [field: string]: unknown
}

export interface Logger {
  log(record: LogRecord): void
  /**
   * Whether a record of `level` would be written. Optional (a plain `{ log }` object is a logger that
   * wants everything); callers on hot paths ask before they build a record (`logEnabled`).
   */
  enabled?(level: LogRecord['level']): boolean
  /**
   * Optional fast path for a per-request caller (the access log): writes the record whose JSON
   * members are `members`, already serialised and without braces (`"level":"info","msg":"request",
   * ...`), as the same line `log` would write for that record. Callers without it use `log`
   * (`logMembers`).
   */
  logMembers?(level: LogRecord['level'], members: string): void
  /**
   * Optional fast path for the access log (request-log.ts `writeAccessLog`): takes the line's fields
   * as they are and writes, in order with every other line, the line `logMembers` would write for
   * `accessLogMembers(level, ...fields)`, with `time` when it was called. The Node origin's logger
   * builds these lines a batch at a time (src/entry/node-log-sink.ts); callers without it use
   * `logMembers`.
   */
  logAccess?: AccessLogWriter
}

/** `Logger.logAccess`: one access log line's fields, positional (no object per request). */
export type AccessLogWriter = (
  level: 'info' | 'error',
  requestId: string,
  method: string,
  path: string,
  status: number,
  durationMs: number,
  errorCode: string | undefined,
) => void

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 }

/**
 * A logger that writes each record at or above `level` as one JSON line (with an ISO `time` first)
 * through `write`, which defaults to `console.log`.
 *
 * @example
 * const logger = createJsonLogger({ level: 'info' })
 * logger.log({ level: 'info', msg: 'listening', port: 8788 })
 */
export function createJsonLogger(
  options: { level?: LogLevel; write?: (line: string) => void; now?: () => number } = {},
): Logger {
  const min = RANK[options.level ?? 'info']
  const write = options.write ?? ((line: string) => console.log(line))
  const now = options.now ?? Date.now
  const iso = isoTimeFormat()
  const time = () => iso(now())
  return {
    log(record) {
      if (RANK[record.level] < min) return
      // `{"time":…,` then the record's own members: no copy of the record per line.
      const fields = JSON.stringify(record)
      write(`{"time":"${time()}"${fields.length > 2 ? ',' : ''}${fields.slice(1)}`)
    },
    logMembers(level, members) {
      if (RANK[level] < min) return
      write(`{"time":"${time()}",${members}}`)
    },
    enabled: (level) => RANK[level] >= min,
  }
}

/**
 * A formatter of milliseconds since the epoch as ISO 8601 UTC time (`Date.prototype.toISOString`).
 * Under load many lines share a second: its `YYYY-MM-DDTHH:MM:SS.` is formatted once and only the
 * milliseconds per line (issue 15: cheap logging). The result never needs JSON escaping. Each
 * formatter keeps its own second: make one per writer.
 *
 * @example const iso = isoTimeFormat(); iso(Date.now()) // '2026-12-07T20:01:02.345Z'
 */
export function isoTimeFormat(): (time: number) => string {
  let second = Number.NaN
  let prefix = ''
  return (time) => {
    const ms = Math.floor(time)
    const s = Math.floor(ms / 1000)
    if (s !== second) {
      second = s
      prefix = new Date(s * 1000).toISOString().slice(0, -4) // without its `000Z`
    }
    const frac = ms - s * 1000
    return `${prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`
  }
}

/** A logger that drops everything; for library users who do not want our lines. */
export const silentLogger: Logger = { log() {}, enabled: () => false }

/**
 * Whether `logger` wants records of `level`: asks `logger.enabled` when it has one, else assumes yes.
 * Lets a hot path (the access log) skip building a record nobody will write.
 *
 * @example if (logEnabled(logger, 'info')) logger.log({ level: 'info', msg: 'request', ...fields() })
 */
export function logEnabled(logger: Logger, level: LogRecord['level']): boolean {
  return logger.enabled === undefined || logger.enabled(level)
}

/**
 * Writes a record given as serialised JSON members through the logger's fast path when it has one,
 * else parses them back into a record for its `log` (a test's capturing logger, a library user's).
 *
 * @example logMembers(logger, 'info', '"level":"info","msg":"request","status":200')
 */
export function logMembers(logger: Logger, level: LogRecord['level'], members: string): void {
  if (logger.logMembers !== undefined) logger.logMembers(level, members)
  else logger.log(JSON.parse(`{${members}}`) as LogRecord)
}

// Three base64url runs joined by dots, the shape of a compact JWS (RFC 7515 §7.1); also long bare
// base64url runs, the shape of opaque tokens and signatures.
const TOKEN_SHAPED = /[\w-]{8,}\.[\w-]{8,}\.[\w-]*|[\w-]{40,}/g

/**
 * Replaces token-shaped substrings with `[redacted]`. Used on text we do not control before it is
 * logged (request paths, messages of unexpected errors, which V8 may fill with input snippets).
 *
 * @example redactTokens('/x/eyJhbGciOi.eyJzdWIiOi.c2ln') // '/x/[redacted]'
 */
export function redactTokens(text: string): string {
  // Shorter than the shortest match (`[\w-]{8}.[\w-]{8}.`): nothing to replace (most paths).
  if (text.length < 18) return text
  return text.replace(TOKEN_SHAPED, '[redacted]')
}
