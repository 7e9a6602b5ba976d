/**
 * CORS for routes that take bearer tokens from browsers (the gateway under `/api/`). Only origins named
 * in the configuration may read responses: the request's `Origin` is echoed back when it is on the
 * list, never `*` and never `Access-Control-Allow-Credentials` (bearer tokens travel in a header the
 * page sets, not in cookies, so no credentialed mode is needed). An unknown origin gets no CORS headers
 * at all, so the browser withholds the response from the page. Every response says `Vary: Origin`, so
 * a shared cache never hands one origin's answer to another (Fetch standard, "CORS protocol and HTTP
 * caches"). Whatever `Access-Control-*` headers the upstream set are dropped: this middleware owns CORS
 * on the routes it covers.
 *
 * Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered here, before authentication:
 * a browser never sends the bearer token on a preflight, so passing it on would always be a 401.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { GatehouseEnv } from './types.ts'

export interface CorsOptions {
  /** Exact origins (`https://app.example.com`) allowed to read responses. */
  allowedOrigins: readonly string[]
  /** Methods announced on preflights. Default GET, HEAD, POST, PUT, PATCH, DELETE. */
  allowMethods?: readonly string[]
  /** Request headers announced on preflights. Default Authorization, Content-Type, DPoP. */
  allowHeaders?: readonly string[]
  /** Response headers the page may read besides the CORS-safelisted ones. */
  exposeHeaders?: readonly string[]
  /** How long a browser may cache a preflight answer. Default 600 s (Chromium caps it at 7200). */
  maxAgeSeconds?: number
}

const DEFAULT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']
// DPoP: a browser sends the proof header on every call with a DPoP-bound token (RFC 9449 §7.1).
const DEFAULT_HEADERS = ['Authorization', 'Content-Type', 'DPoP']
const DEFAULT_EXPOSE = ['WWW-Authenticate', 'X-Request-Id', 'DPoP-Nonce']
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/

const isOrigin = (value: string): boolean => {
  if (!URL.canParse(value)) return false
  const url = new URL(value)
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value
}

/**
 * Builds the middleware. Options are checked once: a malformed origin or header name is a programming
 * error, thrown as a `TypeError` at start.
 *
 * @example
 * app.use('/api/*', cors({ allowedOrigins: ['https://app.example.com'] }))
 */
export function cors(options: CorsOptions): MiddlewareHandler<GatehouseEnv> {
  const origins = new Set(options.allowedOrigins)
  for (const origin of origins) {
    if (!isOrigin(origin))
      throw new TypeError('cors: allowedOrigins must be origins like https://a.b')
  }
  const methods = options.allowMethods ?? DEFAULT_METHODS
  const headers = options.allowHeaders ?? DEFAULT_HEADERS
  const expose = options.exposeHeaders ?? DEFAULT_EXPOSE
  for (const name of [...methods, ...headers, ...expose]) {
    if (!TOKEN.test(name)) throw new TypeError('cors: method and header names must be tokens')
  }
  const maxAge = options.maxAgeSeconds ?? 600
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86_400)
    throw new TypeError('cors: maxAgeSeconds must be an integer between 0 and 86400')
  const allowMethods = methods.join(', ')
  const allowHeaders = headers.join(', ')
  const exposeHeaders = expose.join(', ')

  return async (c, next): Promise<Response | undefined> => {
    const origin = c.req.header('origin')
    const allowed = origin !== undefined && origins.has(origin)
    const preflight =
      c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined
    if (preflight) {
      const out = new Headers({ Vary: 'Origin', 'Cache-Control': 'no-store' })
      if (allowed) {
        out.set('Access-Control-Allow-Origin', origin)
        out.set('Access-Control-Allow-Methods', allowMethods)
        out.set('Access-Control-Allow-Headers', allowHeaders)
        out.set('Access-Control-Max-Age', String(maxAge))
        out.set('Cache-Control', `max-age=${maxAge}`)
      }
      return new Response(null, { status: 204, headers: out })
    }
    await next()
    withCorsHeaders(c, allowed ? origin : undefined, exposeHeaders)
    return undefined
  }
}

/** Replaces the response's CORS headers with ours; the upstream's never reach the browser. */
function withCorsHeaders(
  c: Context<GatehouseEnv>,
  origin: string | undefined,
  exposeHeaders: string,
): void {
  const response = c.res
  const headers = new Headers(response.headers)
  for (const name of [...headers.keys()]) {
    if (name.startsWith('access-control-')) headers.delete(name)
  }
  const vary = headers.get('vary')
  if (!vary?.split(',').some((v) => v.trim().toLowerCase() === 'origin' || v.trim() === '*'))
    headers.set('Vary', vary ? `${vary}, Origin` : 'Origin')
  if (origin !== undefined) {
    headers.set('Access-Control-Allow-Origin', origin)
    headers.set('Access-Control-Expose-Headers', exposeHeaders)
  }
  // Responses from fetch() have immutable headers, so build a new one. Clearing `c.res` first stops
  // Hono from merging the old headers (the ones just removed) back in.
  c.res = undefined
  c.res = new Response(response.body, { status: response.status, headers })
}
