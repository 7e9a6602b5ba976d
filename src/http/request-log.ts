/**
 * Request id and access-log middleware: one JSON line per request with time, level, request id,
 * method, path (no query string: tokens and personal data live there), status, duration and, for
 * failures, a stable error code. Never headers, never a body, never a token.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { logEnabled, redactTokens, type LogRecord, type Logger } from './log.ts'
import type { GatehouseEnv } from './types.ts'

/** A client's `X-Request-Id` is kept only if it is a short, plain token; otherwise a UUID is made. */
export const REQUEST_ID_MAX_LENGTH = 64

/** What `hono/request-id` accepts (`[\w=-]`), at most `REQUEST_ID_MAX_LENGTH` characters. */
const SANE_REQUEST_ID = new RegExp(`^[\\w=-]{1,${REQUEST_ID_MAX_LENGTH}}$`)

/** Paths are cut to this length in logs: a log line should not grow with hostile input. */
const MAX_LOGGED_PATH = 512

/**
 * Keeps a sane `X-Request-Id` (at most `REQUEST_ID_MAX_LENGTH` characters of `[A-Za-z0-9_=-]`) or
 * makes a UUID, and sets it as `c.get('requestId')`; `requestLog` puts it on every response.
 *
 * The same rule as `hono/request-id`, which this replaced: that one sets the header with
 * `c.header()` before the route runs, so every response, a bare `c.text()` included, carries a
 * `Headers` object, which on `@hono/node-server` is built and then walked again to write the
 * response (issue 15: a fifth of the no-op route's cost on Node). Here the id goes on the response
 * once it exists (`addRequestIdHeader`).
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export const requestIdMiddleware = (): MiddlewareHandler<GatehouseEnv> =>
  async function requestId(c, next) {
    const given = c.req.header('X-Request-Id')
    c.set(
      'requestId',
      given !== undefined && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID(),
    )
    await next()
  }

/**
 * Logs each request after it is answered (also when a handler threw: Hono's `onError` has already set
 * `c.res` by then). 5xx are `error`, everything else `info`: a 401 is normal traffic for an auth service.
 * The record is built only when the logger wants its level (`logEnabled`): with access logs off
 * (`GATEHOUSE_LOG_LEVEL=warn`) a successful request costs two clock reads here.
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export function requestLog(logger: Logger): MiddlewareHandler<GatehouseEnv> {
  return async function accessLog(c, next) {
    const start = performance.now()
    await next()
    addRequestIdHeader(c)
    const status = c.res.status
    const level = status >= 500 ? 'error' : 'info'
    if (!logEnabled(logger, level)) return
    const record: LogRecord = {
      level,
      msg: 'request',
      requestId: c.get('requestId'),
      method: c.req.method,
      path: redactTokens(c.req.path.slice(0, MAX_LOGGED_PATH)),
      status,
      durationMs: Math.round((performance.now() - start) * 1000) / 1000,
    }
    const errorCode = c.get('errorCode')
    if (errorCode !== undefined) record.error = errorCode
    logger.log(record)
  }
}

/**
 * Puts the request id on the response unless it already has one (a proxied upstream's own is kept).
 * On Node the id goes straight onto the outgoing `ServerResponse`: `@hono/node-server` writes the
 * Response's own headers over it with `writeHead`, so an upstream's id still wins, and a response
 * built without headers (`c.text()`) is written without a `Headers` object. Elsewhere (workerd,
 * `app.request()`) it is set on the Response, copied once when its headers are immutable.
 */
function addRequestIdHeader(c: Context<GatehouseEnv>): void {
  const id = c.get('requestId')
  const outgoing = (c.env as { outgoing?: NodeOutgoing } | undefined)?.outgoing
  if (typeof outgoing?.setHeader === 'function' && outgoing.headersSent === false) {
    outgoing.setHeader('X-Request-Id', id)
    return
  }
  if (c.res.headers.has('X-Request-Id')) return
  try {
    c.res.headers.set('X-Request-Id', id)
  } catch {
    // Immutable headers (a fetch response on Workers): copy the response once.
    c.res = new Response(c.res.body, c.res)
    c.res.headers.set('X-Request-Id', id)
  }
}

/** The part of Node's `ServerResponse` used here (this file is also bundled for Workers). */
interface NodeOutgoing {
  setHeader(name: string, value: string): unknown
  headersSent: boolean
}
