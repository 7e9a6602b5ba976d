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
}

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
  // Under load many lines share a millisecond: format its timestamp once (issue 15: cheap logging).
  let lastMs = Number.NaN
  let lastTime = ''
  return {
    log(record) {
      if (RANK[record.level] < min) return
      const ms = now()
      if (ms !== lastMs) {
        lastMs = ms
        lastTime = JSON.stringify(new Date(ms).toISOString())
      }
      // `{"time":…,` then the record's own members: no copy of the record per line.
      const fields = JSON.stringify(record)
      write(`{"time":${lastTime}${fields.length > 2 ? ',' : ''}${fields.slice(1)}`)
    },
    enabled: (level) => RANK[level] >= min,
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
  return text.replace(TOKEN_SHAPED, '[redacted]')
}
