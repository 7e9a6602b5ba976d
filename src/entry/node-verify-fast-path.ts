/**
 * The Node origin's path for the common `/verify` request: `GET /verify` with an
 * `Authorization: Bearer` token the L1 cache holds, answered from Node's own request and response
 * objects, without the `Request`, Hono context, routing, `Response` and its conversion back to the
 * `ServerResponse` that `@hono/node-server` and the app make for every request (issue 15 item 3: on
 * an L1 hit that is most of the request's CPU; the route's own work is a few µs).
 *
 * Nothing is checked differently: the token is taken from the request and verified by the route's
 * own `authenticateNow` (query-string token refused, header shape, the verifier's L1 lookup with its
 * expiry, the revocation filter, the DPoP binding rule) with the route's own verifier and DPoP guard
 * (`verifyRouteDepsOf`: the very handler Hono's router matches for `GET /verify`), and the answer's
 * body and headers are the route's (`responseBody`, `RESPONSE_HEADERS`). What the app does around a
 * route is done here the same way, as the /token path does it (node-token-fast-path.ts): the request
 * id (`saneRequestId`), `beforeRequest` (the revocation sync's kick), `X-Request-Id` on the answer,
 * the request metric with the route's pattern as its label, the access log line; the answer is
 * written as `@hono/node-server` writes the route's (the same header object and order, the length
 * as Node's own `Content-Length`).
 *
 * Taken only in its plainest shape: `GET` of exactly `/verify` over HTTP/1.1, a `Host` of the plain
 * form `@hono/node-server` takes without parsing it (or on a port of 60000–65535, when parsing it
 * changes nothing: `HOST`), `Authorization: Bearer <token>` with a token the L1 holds (`isCached`,
 * no side effects), no body framing, no `DPoP`, `Upgrade`, `X-Original-Method` or `X-Original-URL`
 * header, no header name twice. Everything else goes to the
 * app untouched (a miss is verified there, so an invalid token is never verified twice), as does a
 * token the checks refuse (the app's `onError` renders, counts and logs every refusal) and an answer
 * with a `DPoP-Nonce`. Trying a request here and then in the app is safe: before the answer is written
 * nothing here has an effect beyond what the app repeats (an L1 hit counted, a revocation answer
 * cached for a second).
 *
 * @example
 * const fast = verifyFastPathFor(app, { path: '/verify', logger, after: metrics.record })
 * if (fast) installFastPath(server, fast) // node-fast-path.ts
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { Hono } from 'hono'
import type { NodeFastPath } from './node-fast-path.ts'
import type { VerifiedToken } from '../core/types.ts'
import { authenticateNow } from '../http/authenticate.ts'
import { dpopNonceFor, type DpopGuard } from '../http/dpop-guard.ts'
import type { Logger } from '../http/log.ts'
import { openRequestRecord } from '../http/request-record.ts'
import { saneRequestId, writeAccessLog } from '../http/request-log.ts'
import type { GatehouseEnv, RequestHooks, TokenVerifier } from '../http/types.ts'
import { RESPONSE_HEADERS, responseBody, verifyRouteDepsOf } from '../http/verify-route.ts'

export interface VerifyFastPathOptions {
  /** The /verify route's own verifier and DPoP guard (`verifyRouteDepsOf`). */
  verifier: TokenVerifier
  dpop?: DpopGuard
  /** The route's path and pattern: `/verify`. */
  path: string
  logger: Logger
  /** What the app's request hooks run before a route (node-server.ts: the revocation sync's kick). */
  beforeRequest?: () => void
  /** The app's `after` hook (the request metric). */
  after?: RequestHooks['after']
}

/**
 * The `Host` values this path takes (ours): `@hono/node-server`'s plain hosts (its `reValidHost`: a
 * lower-case name, no port or one of 1000–59999, put in the request URL as it is) and the same names
 * on ports 60000–65535 (an origin on an ephemeral port; no leading zero, nothing above). node-server
 * parses a Host of the latter kind with `new URL` and uses the parsed URL (refusing it when the
 * parsed name is not the one sent), so the path takes one only when that parse gives back the very
 * URL the path builds (`sameWhenParsed`: the port, not a default one, is kept; a name the parser
 * rewrites, such as `127.1`, or refuses, such as `a.1`, is the app's). Safe: the same request URL.
 */
const HOST =
  /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5]))?$/
/** After `HOST`: a port of 60000–65535, the ones node-server parses. */
const PARSED_PORT = /:6\d{4}$/
const BEARER = 'Bearer '
/** What `authenticateNow` may use of a request on Node: nothing (no `waitUntil`). */
const NO_EXECUTION_CONTEXT = Object.freeze({})

/** `ServerResponse`'s own length field: set, Node writes `Content-Length` itself (as node-server does). */
type WithLength = ServerResponse & { _contentLength: number | null }

/**
 * Builds the wrapper: `(incoming, outgoing, app)` answers a request it takes and hands every other to
 * `app` (the listener `@hono/node-server` made for the app).
 *
 * @example server.on('request', (req, res) => fast(req, res, appListener))
 */
export function createVerifyFastPath(options: VerifyFastPathOptions): NodeFastPath {
  const { verifier, dpop, path, logger, beforeRequest, after } = options
  const isCached = verifier.isCached
  const authOptions = {
    allowFormBody: false,
    verification: NO_EXECUTION_CONTEXT,
    ...(dpop === undefined ? {} : { dpop }),
  }
  const answered = { method: 'GET', route: path, status: 200 }

  /** The request's URL (as the app builds it) when this path takes it, else undefined. */
  function take(incoming: IncomingMessage): string | undefined {
    if (incoming.url !== path || incoming.method !== 'GET' || isCached === undefined)
      return undefined
    const headers = incoming.headers
    const authorization = headers.authorization
    const host = headers.host
    if (
      incoming.httpVersionMajor !== 1 ||
      incoming.httpVersionMinor !== 1 ||
      host === undefined ||
      !HOST.test(host) ||
      authorization === undefined ||
      !authorization.startsWith(BEARER) ||
      headers['content-length'] !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      headers.dpop !== undefined ||
      headers.upgrade !== undefined ||
      headers['x-original-method'] !== undefined ||
      headers['x-original-url'] !== undefined ||
      // Node keeps one of some repeated headers and joins others; the app sees them all.
      incoming.rawHeaders.length !== 2 * Object.keys(headers).length ||
      !isCached(authorization.slice(BEARER.length))
    )
      return undefined
    const url = `http://${host}${path}`
    return PARSED_PORT.test(host) && !sameWhenParsed(url) ? undefined : url
  }

  function answer(
    verified: VerifiedToken,
    id: string,
    start: number,
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    app: RequestListener,
  ): void {
    const nonce = dpopNonceFor(dpop, verified)
    if (nonce !== undefined) {
      // Not for a bearer presentation (a bound token is refused above); the app adds it if ever.
      nonce.catch(() => {})
      return app(incoming, outgoing)
    }
    const body = responseBody(verified.claims)
    const end = performance.now()
    try {
      // As @hono/node-server writes the route's answer: its header object with the id added
      // (node-response.ts), the length as Node's own `Content-Length` (an HTTP/1.1 GET with a body).
      ;(outgoing as WithLength)._contentLength = Buffer.byteLength(body)
      outgoing.writeHead(200, { ...RESPONSE_HEADERS, 'X-Request-Id': id }).end(body)
    } catch {
      // Not written (a header Node refuses): the app answers, and says why.
      if (!outgoing.headersSent) {
        ;(outgoing as WithLength)._contentLength = null
        return app(incoming, outgoing)
      }
      return void outgoing.destroy()
    }
    after?.(answered, (end - start) / 1000)
    writeAccessLog(logger, id, 'GET', path, 200, end - start, undefined)
  }

  return (incoming, outgoing, app) => {
    const url = take(incoming)
    if (url === undefined) return app(incoming, outgoing)
    const start = performance.now()
    const id = saneRequestId(incoming.headers['x-request-id'])
    beforeRequest?.()
    // The route's own authentication, given what it reads of a request: the URL (a query-string
    // token), the method, and the header fields, from Node's parsed list as on the app's path
    // (request-headers.ts reads the request's record).
    const request = { method: 'GET', url } as unknown as Request
    openRequestRecord(request, id, incoming.rawHeaders)
    let verified: VerifiedToken | Promise<VerifiedToken>
    try {
      verified = authenticateNow(request, verifier, authOptions)
    } catch {
      return app(incoming, outgoing)
    }
    if (!(verified instanceof Promise)) return answer(verified, id, start, incoming, outgoing, app)
    // A revocation filter hit confirmed in L2 (or an entry that expired meanwhile): the outcome
    // decides, a refusal is the app's to render.
    verified.then(
      (v) => answer(v, id, start, incoming, outgoing, app),
      () => app(incoming, outgoing),
    )
  }
}

/** Whether `new URL(url)` keeps `url` as it is (node-server's parse of a Host not plain to it). */
function sameWhenParsed(url: string): boolean {
  try {
    return new URL(url).href === url
  } catch {
    return false
  }
}

/**
 * The wrapper for `app`, or undefined when the app would not answer `GET <path>` with the /verify
 * route alone: the route's handler (`verifyRouteDepsOf`), under that very pattern, with nothing else
 * matched before it. Another middleware on the path (tracing, tenancy, anything added later) turns
 * this path off rather than being skipped.
 *
 * @example const fast = verifyFastPathFor(app, { path: '/verify', logger })
 */
export function verifyFastPathFor(
  app: Hono<GatehouseEnv>,
  options: Omit<VerifyFastPathOptions, 'verifier' | 'dpop'>,
): NodeFastPath | undefined {
  const [handlers] = app.router.match('GET', options.path)
  if (handlers.length !== 1) return undefined
  const [handler, route] = (handlers[0] as (typeof handlers)[0])[0]
  const deps = verifyRouteDepsOf(handler)
  if (deps === undefined || route.path !== options.path) return undefined
  return createVerifyFastPath({ ...options, ...deps })
}
