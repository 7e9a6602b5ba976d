/**
 * Request id and access-log middleware: one JSON line per request with time, level, request id,
 * method, path (no query string: tokens and personal data live there), status, duration and, for
 * failures, a stable error code. Never headers, never a body, never a token.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { requestId } from 'hono/request-id'
import { logEnabled, redactTokens, type Logger } from './log.ts'
import type { GatehouseEnv } from './types.ts'

/** A client's `X-Request-Id` is kept only if it is a short, plain token; otherwise a UUID is made. */
export const REQUEST_ID_MAX_LENGTH = 64

/** Paths are cut to this length in logs: a log line should not grow with hostile input. */
const MAX_LOGGED_PATH = 512

/**
 * `hono/request-id`: echoes a sane `X-Request-Id` (at most `REQUEST_ID_MAX_LENGTH` characters of
 * `[A-Za-z0-9_=-]`) or generates a UUID, sets it as `c.get('requestId')` and on the response.
 * `requestLog` adds it to responses built outside Hono's helpers (proxied ones, `requireAuth`'s).
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export const requestIdMiddleware = (): MiddlewareHandler<GatehouseEnv> =>
  requestId({ limitLength: REQUEST_ID_MAX_LENGTH }) as MiddlewareHandler<GatehouseEnv>

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
    // Responses built outside Hono's helpers (proxied, requireAuth's) miss the id header.
    addRequestIdHeader(c)
    const status = c.res.status
    const level = status >= 500 ? 'error' : 'info'
    if (!logEnabled(logger, level)) return
    const errorCode = c.get('errorCode')
    logger.log({
      level,
      msg: 'request',
      requestId: c.get('requestId'),
      method: c.req.method,
      path: redactTokens(c.req.path.slice(0, MAX_LOGGED_PATH)),
      status,
      durationMs: Math.round((performance.now() - start) * 1000) / 1000,
      ...(errorCode === undefined ? {} : { error: errorCode }),
    })
  }
}

function addRequestIdHeader(c: Context<GatehouseEnv>): void {
  if (c.res.headers.has('X-Request-Id')) return
  try {
    c.res.headers.set('X-Request-Id', c.get('requestId'))
  } catch {
    // Immutable headers (a fetch response on Workers): copy the response once.
    c.res = new Response(c.res.body, c.res)
    c.res.headers.set('X-Request-Id', c.get('requestId'))
  }
}
