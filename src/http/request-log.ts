/**
 * Request ids and the access log: one JSON line per request with time, level, request id, method,
 * path (no query string: tokens and personal data live there), status, duration and, for failures,
 * a stable error code. Never headers, never a body, never a token. `createApp` observes requests
 * outside Hono's middleware chain (request-observer.ts); the middleware here are for apps that
 * compose their own stack.
 */
import type { MiddlewareHandler } from 'hono'
import { logEnabled, logMembers, redactTokens, type Logger } from './log.ts'
import { newRequestId } from './request-id.ts'
import { openRequestRecord } from './request-record.ts'
import type { GatehouseEnv } from './types.ts'

/** A client's `X-Request-Id` is kept only if it is a short, plain token; otherwise one is made. */
export const REQUEST_ID_MAX_LENGTH = 64

/** What `hono/request-id` accepts (`[\w=-]`), at most `REQUEST_ID_MAX_LENGTH` characters. */
const SANE_REQUEST_ID = new RegExp(`^[\\w=-]{1,${REQUEST_ID_MAX_LENGTH}}$`)

/** Paths are cut to this length in logs: a log line should not grow with hostile input. */
const MAX_LOGGED_PATH = 512

/**
 * The request's id: the client's `X-Request-Id` when it is sane (at most `REQUEST_ID_MAX_LENGTH`
 * characters of `[A-Za-z0-9_=-]`, the rule of `hono/request-id`), else a new UUID-shaped id
 * (request-id.ts). On Node it is read from the parsed `IncomingMessage` (`env.incoming`): no
 * `Headers` object is built for it.
 *
 * @example const id = requestIdFrom(request, env)
 */
export function requestIdFrom(request: Request, env: unknown): string {
  const incoming = (env as { incoming?: NodeIncoming } | undefined)?.incoming
  const given =
    incoming?.headers !== undefined
      ? incoming.headers['x-request-id']
      : request.headers.get('X-Request-Id')
  return saneRequestId(given)
}

/**
 * The client's `X-Request-Id` value when it is sane, else a new one (request-id.ts):
 * `requestIdFrom`'s rule, for a caller holding the raw Node request
 * (src/entry/node-token-fast-path.ts).
 *
 * @example const id = saneRequestId(incoming.headers['x-request-id'])
 */
export function saneRequestId(given: unknown): string {
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : newRequestId()
}

/**
 * Keeps a sane `X-Request-Id` or makes one (`requestIdFrom`), sets it as `c.get('requestId')` and
 * as the request's record (`requestIdOf(c)`); `requestLog` puts it on every response. For apps that
 * compose their own stack; `createApp` observes requests without a middleware layer.
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export const requestIdMiddleware = (): MiddlewareHandler<GatehouseEnv> =>
  async function requestId(c, next) {
    const id = requestIdFrom(c.req.raw, c.env)
    openRequestRecord(c.req.raw, id)
    c.set('requestId', id)
    await next()
  }

/**
 * Logs each request after it is answered (also when a handler threw: Hono's `onError` has already set
 * `c.res` by then), with the id `requestIdMiddleware` set on the response. For apps that compose
 * their own stack; mount after `requestIdMiddleware`.
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export function requestLog(logger: Logger): MiddlewareHandler<GatehouseEnv> {
  return async function accessLog(c, next) {
    const start = performance.now()
    await next()
    const id = c.get('requestId')
    const res = withRequestId(c.res, id, c.env)
    if (res !== c.res) {
      c.res = undefined // replaced, not merged into the old one (Hono's setter merges headers)
      c.res = res
    }
    const end = performance.now()
    writeAccessLog(
      logger,
      id,
      c.req.method,
      c.req.path,
      c.res.status,
      end - start,
      c.get('errorCode'),
    )
  }
}

/**
 * Methods as JSON strings; others (extension methods) are serialised per request. No prototype: a
 * method is any token (RFC 9110 §9.1), `constructor` and `__proto__` among them, and those must find
 * nothing here.
 */
const METHOD_JSON: Record<string, string> = Object.assign(
  Object.create(null) as Record<string, string>,
  Object.fromEntries(
    ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => [m, `"${m}"`]),
  ),
)

/**
 * Writes the access log line, when the logger wants its level: 5xx are `error`, everything else
 * `info` (a 401 is normal traffic for an auth service). With access logs off
 * (`GATEHOUSE_LOG_LEVEL=warn`) nothing is built. A logger with `logAccess` (the Node origin's) takes
 * the fields as they are and builds the line later, a batch at a time; any other gets the line's
 * members (`accessLogMembers`) now.
 *
 * @example writeAccessLog(logger, id, 'GET', '/verify', 200, 0.4, undefined)
 */
export function writeAccessLog(
  logger: Logger,
  requestId: string,
  method: string,
  path: string,
  status: number,
  durationMs: number,
  errorCode: string | undefined,
): void {
  const level = status >= 500 ? 'error' : 'info'
  if (!logEnabled(logger, level)) return
  if (logger.logAccess !== undefined)
    logger.logAccess(level, requestId, method, path, status, durationMs, errorCode)
  else
    logMembers(
      logger,
      level,
      accessLogMembers(level, requestId, method, path, status, durationMs, errorCode),
    )
}

/**
 * The access log line's JSON members, without braces and without `time` (`Logger.logMembers`):
 * level, msg, request id, method, path (cut to `MAX_LOGGED_PATH`, tokens redacted), status,
 * duration and, for failures, the error code. The constant members are literals and the request id
 * needs no escaping (`[\w=-]` or a UUID), so only the path and the error code go through
 * `JSON.stringify`.
 *
 * @example accessLogMembers('info', id, 'GET', '/verify', 200, 0.4, undefined)
 */
export function accessLogMembers(
  level: 'info' | 'error',
  requestId: string,
  method: string,
  path: string,
  status: number,
  durationMs: number,
  errorCode: string | undefined,
): string {
  return (
    `"level":"${level}","msg":"request","requestId":"${requestId}",` +
    `"method":${METHOD_JSON[method] ?? JSON.stringify(method)},` +
    `"path":${jsonString(redactTokens(path.slice(0, MAX_LOGGED_PATH)))},` +
    `"status":${status},"durationMs":${millisecondsJson(durationMs)}` +
    (errorCode === undefined ? '' : `,"error":${jsonString(errorCode)}`)
  )
}

/** Printable ASCII but `"` and `\\`: characters JSON writes as they are (RFC 8259 §7). */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/**
 * `JSON.stringify(text)` for a string: a path of plain characters (almost every request's) is quoted
 * as it is, without the call into V8's serialiser (~0.3–0.4 µs a line in a profile of the origin's
 * `/noop`, issue 15 round 9); anything else (quotes, backslashes, control or non-ASCII characters)
 * goes through `JSON.stringify`.
 *
 * @example jsonString('/verify') // '"/verify"'
 */
export function jsonString(text: string): string {
  return JSON_PLAIN.test(text) ? `"${text}"` : JSON.stringify(text)
}

/**
 * `durationMs` rounded to the microsecond, as JSON: the text `JSON.stringify(Math.round(ms * 1000) /
 * 1000)` gives (`0.123`, `1.5`, `2`), from integers (~65 ns) rather than a double's shortest decimal
 * form (~220 ns here, paid on every request).
 *
 * @example millisecondsJson(1.2345) // '1.235'
 */
export function millisecondsJson(ms: number): string {
  const us = Math.round(ms * 1000)
  if (us < 0) return `${us / 1000}`
  const whole = Math.floor(us / 1000)
  const frac = us - whole * 1000
  if (frac === 0) return `${whole}`
  if (frac % 100 === 0) return `${whole}.${frac / 100}`
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`
}

/**
 * Where a Node response that writes the request id itself takes it (src/entry/node-response.ts):
 * `withRequestId` sets it, the response adds it to the header object it writes.
 */
export const RESPONSE_REQUEST_ID = Symbol('gatehouse.responseRequestId')

/**
 * `response` with the request id on it, unless it already has one (a proxied upstream's own is kept).
 * On Node the id goes onto the outgoing `ServerResponse`, never into the `Response`: with
 * `NodeResponseWithId` (node-response.ts, what `npm start` serves with) it is added to the header
 * object `@hono/node-server` writes, with any other `ServerResponse` by `setHeader` (which makes
 * Node merge every header of the response again in `writeHead`); either way the Response's own
 * headers win, so an upstream's id is kept, and a `Response` built without headers (`c.text()`) is
 * written without a `Headers` object. Elsewhere (workerd, `app.request()`) it is set on the
 * Response, copied once when its headers are immutable.
 *
 * @example return withRequestId(response, id, env)
 */
export function withRequestId(response: Response, id: string, env: unknown): Response {
  const outgoing = (env as { outgoing?: NodeOutgoing } | undefined)?.outgoing
  if (outgoing !== undefined) {
    if (RESPONSE_REQUEST_ID in outgoing) {
      outgoing[RESPONSE_REQUEST_ID] = id
      return response
    }
    if (typeof outgoing.setHeader === 'function' && outgoing.headersSent === false) {
      outgoing.setHeader('X-Request-Id', id)
      return response
    }
  }
  if (response.headers.has('X-Request-Id')) return response
  try {
    response.headers.set('X-Request-Id', id)
    return response
  } catch {
    // Immutable headers (a fetch response on Workers): copy the response once.
    const copy = new Response(response.body, response)
    copy.headers.set('X-Request-Id', id)
    return copy
  }
}

/** The part of Node's `IncomingMessage` used here (this file is also bundled for Workers). */
interface NodeIncoming {
  headers?: Record<string, string | string[] | undefined>
}

/** The part of Node's `ServerResponse` used here (this file is also bundled for Workers). */
interface NodeOutgoing {
  setHeader(name: string, value: string): unknown
  headersSent: boolean
  [RESPONSE_REQUEST_ID]?: string | undefined
}
