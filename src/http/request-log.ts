/**
 * Request id and access-log middleware: one JSON line per request with time, level, request id,
 * method, path (no query string: tokens and personal data live there), status, duration and, for
 * failures, a stable error code. Never headers, never a body, never a token.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { logEnabled, redactTokens, type Logger } from './log.ts'
import type { GatehouseEnv } from './types.ts'

/** A client's `X-Request-Id` is kept only if it is a short, plain token; otherwise a UUID is made. */
export const REQUEST_ID_MAX_LENGTH = 64

/** Paths are cut to this length in logs: a log line should not grow with hostile input. */
const MAX_LOGGED_PATH = 512

/** Word characters, `-` and `=`: the ids Hono's own request-id middleware accepts. */
const SAFE_REQUEST_ID = /^[\w\-=]+$/

/** The part of Node's `ServerResponse` (or `Http2ServerResponse`) we use. */
interface NodeOutgoing {
  setHeader(name: string, value: string): unknown
  headersSent: boolean
}

/**
 * On Node, `@hono/node-server` passes the `ServerResponse` as `c.env.outgoing`; elsewhere (workerd,
 * `app.request`) there is none. Checked by shape: a Worker binding is never a response with
 * `setHeader` and `headersSent`.
 */
function nodeOutgoing(c: Context): NodeOutgoing | undefined {
  const outgoing = (c.env as { outgoing?: Partial<NodeOutgoing> } | undefined)?.outgoing
  return typeof outgoing?.setHeader === 'function' && typeof outgoing.headersSent === 'boolean'
    ? (outgoing as NodeOutgoing)
    : undefined
}

/**
 * Echoes a sane `X-Request-Id` (at most `REQUEST_ID_MAX_LENGTH` characters of `[A-Za-z0-9_=-]`) or
 * generates a UUID, sets it as `c.get('requestId')` and on the response.
 *
 * On Node the header goes on Node's response object, where `writeHead` merges it with whatever the
 * `Response` carries: so it is on every response, also those built outside Hono's helpers (the
 * gateway's proxied ones, `requireAuth`'s) and @hono/node-server's own 500, and Hono's `Response`
 * keeps a plain header record, which @hono/node-server writes without building a `Headers` object
 * (about 3 µs per request, a sixth of a no-op route; `npm run bench:http`). A `Response` that carries
 * its own `X-Request-Id` (an upstream echoing ours) keeps it, as on the other runtimes. Elsewhere the
 * header is set through Hono (`c.header`) and `requestLog` adds it to responses that lack it.
 *
 * @example app.use(requestIdMiddleware(), requestLog(logger))
 */
export const requestIdMiddleware = (): MiddlewareHandler<GatehouseEnv> =>
  function requestIdMiddleware(c, next) {
    const given = c.req.header('X-Request-Id')
    const id =
      given !== undefined && given.length <= REQUEST_ID_MAX_LENGTH && SAFE_REQUEST_ID.test(given)
        ? given
        : crypto.randomUUID()
    c.set('requestId', id)
    const outgoing = nodeOutgoing(c)
    if (outgoing !== undefined && !outgoing.headersSent) outgoing.setHeader('X-Request-Id', id)
    else c.header('X-Request-Id', id)
    return next()
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
    // Off Node, responses built outside Hono's helpers (proxied, requireAuth's) miss the id header.
    if (nodeOutgoing(c) === undefined) addRequestIdHeader(c)
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
