/**
 * Request id and access-log middleware: one JSON line per request with time, level, request id,
 * method, path (no query string: tokens and personal data live there), status, duration and, for
 * failures, a stable error code. Never headers, never a body, never a token.
 */
import type { MiddlewareHandler } from 'hono'
import { requestId } from 'hono/request-id'
import { redactTokens, type Logger } from './log.ts'
import type { GatehouseEnv } from './types.ts'

/** A client's `X-Request-Id` is kept only if it is a short, plain token; otherwise a UUID is made. */
export const REQUEST_ID_MAX_LENGTH = 64

/** Paths are cut to this length in logs: a log line should not grow with hostile input. */
const MAX_LOGGED_PATH = 512

/** Hono's request-id middleware, bounded: echoes a sane `X-Request-Id` or generates one. */
export const requestIdMiddleware = (): MiddlewareHandler<GatehouseEnv> =>
  requestId({ limitLength: REQUEST_ID_MAX_LENGTH })

/**
 * Logs each request after it is answered (also when a handler threw: Hono's `onError` has already set
 * `c.res` by then). 5xx are `error`, everything else `info`: a 401 is normal traffic for an auth service.
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export function requestLog(logger: Logger): MiddlewareHandler<GatehouseEnv> {
  return async function accessLog(c, next) {
    const start = performance.now()
    await next()
    // Responses built outside Hono's helpers (proxied, requireAuth's) miss the id header; add it.
    if (!c.res.headers.has('X-Request-Id')) {
      try {
        c.res.headers.set('X-Request-Id', c.get('requestId'))
      } catch {
        // Immutable headers (a fetch response on Workers): copy the response once.
        c.res = new Response(c.res.body, c.res)
        c.res.headers.set('X-Request-Id', c.get('requestId'))
      }
    }
    const status = c.res.status
    const errorCode = c.get('errorCode')
    logger.log({
      level: status >= 500 ? 'error' : 'info',
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
