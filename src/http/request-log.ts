/**
 * Request id and access-log middleware: one JSON line per request with time, level, request id,
 * method, path (no query string: tokens and personal data live there), status, duration and, for
 * failures, a stable error code. Never headers, never a body, never a token.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { logEnabled, logMembers, redactTokens, type Logger } from './log.ts'
import type { GatehouseEnv, RequestHooks } from './types.ts'

/** A client's `X-Request-Id` is kept only if it is a short, plain token; otherwise a UUID is made. */
export const REQUEST_ID_MAX_LENGTH = 64

/** What `hono/request-id` accepts (`[\w=-]`), at most `REQUEST_ID_MAX_LENGTH` characters. */
const SANE_REQUEST_ID = new RegExp(`^[\\w=-]{1,${REQUEST_ID_MAX_LENGTH}}$`)

/** Paths are cut to this length in logs: a log line should not grow with hostile input. */
const MAX_LOGGED_PATH = 512

/**
 * The app's outermost middleware: request id, `hooks.before`, the routes, the request id on the
 * response, `hooks.after`, then the access log line. One layer instead of one per concern (request
 * id, log, guard, metrics): each Hono middleware layer costs an async function, a promise and a
 * closure per request, which on a no-op route was most of our stack's cost (issue 15).
 *
 * @example app.use(requestObserver(logger, { onError: errorHandler(logger, realm) }))
 */
export function requestObserver(
  logger: Logger,
  options: {
    onError: (err: Error, c: Context<GatehouseEnv>) => Response | Promise<Response>
    hooks?: RequestHooks
  },
): MiddlewareHandler<GatehouseEnv> {
  const { onError, hooks = {} } = options
  const { before, after } = hooks
  return async function observe(c, next) {
    const start = performance.now()
    c.set('requestId', requestIdOf(c))
    if (before === undefined) await next()
    else {
      try {
        before(c)
      } catch (err) {
        if (!(err instanceof Error)) throw err
        c.error = err
        c.res = await onError(err, c)
        return finish(c, start, logger, after)
      }
      await next()
    }
    finish(c, start, logger, after)
  }
}

/**
 * Keeps a sane `X-Request-Id` (at most `REQUEST_ID_MAX_LENGTH` characters of `[A-Za-z0-9_=-]`) or
 * makes a UUID, and sets it as `c.get('requestId')`; `requestLog` puts it on every response. For apps
 * that compose their own stack; `createApp` uses `requestObserver`, which does both in one layer.
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
    c.set('requestId', requestIdOf(c))
    await next()
  }

/**
 * Logs each request after it is answered (also when a handler threw: Hono's `onError` has already set
 * `c.res` by then). 5xx are `error`, everything else `info`: a 401 is normal traffic for an auth service.
 * The line is built only when the logger wants its level (`logEnabled`): with access logs off
 * (`GATEHOUSE_LOG_LEVEL=warn`) a successful request costs two clock reads here.
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export function requestLog(logger: Logger): MiddlewareHandler<GatehouseEnv> {
  return async function accessLog(c, next) {
    const start = performance.now()
    await next()
    finish(c, start, logger, undefined)
  }
}

/** The client's id when it is sane (on Node read from the parsed request, no `Headers` built). */
function requestIdOf(c: Context<GatehouseEnv>): string {
  const incoming = (c.env as { incoming?: NodeIncoming } | undefined)?.incoming
  const given =
    incoming?.headers !== undefined
      ? incoming.headers['x-request-id']
      : c.req.header('X-Request-Id')
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID()
}

/** Methods as JSON strings; others (extension methods) are serialised per request. */
const METHOD_JSON: Record<string, string> = Object.fromEntries(
  ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => [m, `"${m}"`]),
)

/**
 * After the answer: the request id on the response, `after`, then the access log line. The line's
 * constant members are literals and the request id needs no escaping (`[\w=-]` or a UUID), so
 * only the path and the error code go through `JSON.stringify`.
 */
function finish(
  c: Context<GatehouseEnv>,
  start: number,
  logger: Logger,
  after: RequestHooks['after'],
): void {
  addRequestIdHeader(c)
  const status = c.res.status
  const end = performance.now()
  after?.(c, (end - start) / 1000)
  const level = status >= 500 ? 'error' : 'info'
  if (!logEnabled(logger, level)) return
  const method = c.req.method
  const errorCode = c.get('errorCode')
  logMembers(
    logger,
    level,
    `"level":"${level}","msg":"request","requestId":"${c.get('requestId')}",` +
      `"method":${METHOD_JSON[method] ?? JSON.stringify(method)},` +
      `"path":${JSON.stringify(redactTokens(c.req.path.slice(0, MAX_LOGGED_PATH)))},` +
      `"status":${status},"durationMs":${Math.round((end - start) * 1000) / 1000}` +
      (errorCode === undefined ? '' : `,"error":${JSON.stringify(errorCode)}`),
  )
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

/** The part of Node's `IncomingMessage` used here (this file is also bundled for Workers). */
interface NodeIncoming {
  headers?: Record<string, string | string[] | undefined>
}

/** The part of Node's `ServerResponse` used here (this file is also bundled for Workers). */
interface NodeOutgoing {
  setHeader(name: string, value: string): unknown
  headersSent: boolean
}
