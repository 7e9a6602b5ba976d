/**
 * Gateway mode: requests under `/api/` are verified and forwarded to the upstream with the caller's
 * identity in `X-Gatehouse-*` headers. The upstream trusts those headers, so any incoming header of the
 * same prefix is removed first, and the `Authorization` header is removed unless configured.
 *
 * Path mapping: the `/api` prefix is stripped and the rest appended to the upstream URL's path, with the
 * query string unchanged: upstream `https://orders.internal/v1` + `GET /api/orders?page=2` →
 * `GET https://orders.internal/v1/orders?page=2`.
 */
import { Hono, type Context } from 'hono'
import { AuthError, UpstreamError } from '../core/errors.ts'
import type { VerifiedToken } from '../core/types.ts'
import { cors } from './cors.ts'
import type { Logger } from './log.ts'
import { requireAuth } from './require-auth.ts'
import type { GatehouseEnv, GatewayOptions, TokenVerifier } from './types.ts'
import { hopByHopNames } from './hop-by-hop.ts'

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000
/** Upstream bodies of at most this declared length are buffered rather than streamed (see below). */
const BUFFER_MAX_BYTES = 64 * 1024

const IDENTITY_PREFIX = 'x-gatehouse-'
// Visible ASCII with no surrounding space: what survives a header round trip unchanged.
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

export interface GatewayDeps extends GatewayOptions {
  verifier: TokenVerifier
  realm: string
  logger: Logger
  fetch?: typeof fetch
}

/**
 * The gateway route group, mounted by `createApp` when an upstream URL is configured.
 *
 * @example app.route('/', gatewayRoutes({ url: 'https://orders.internal', verifier, realm, logger }))
 */
export function gatewayRoutes(deps: GatewayDeps): Hono<GatehouseEnv> {
  const upstream = new URL(deps.url)
  if (upstream.search || upstream.hash) throw new TypeError('gateway: url must not have a query')
  const basePath = upstream.pathname.replace(/\/+$/, '')
  const timeoutMs = deps.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS
  const forwardAuthorization = deps.forwardAuthorization ?? false
  const upstreamFetch = deps.fetch ?? ((input, init) => fetch(input, init))

  const app = new Hono<GatehouseEnv>()
  const guard = requireAuth({
    verifier: deps.verifier,
    scopes: deps.scopes ?? [],
    realm: deps.realm,
  })
  // CORS first: a preflight carries no token and must be answered before the guard refuses it.
  if (deps.allowedOrigins !== undefined && deps.allowedOrigins.length > 0)
    app.use('/api/*', cors({ allowedOrigins: deps.allowedOrigins }))
  // Hono's '/api/*' also matches '/api' itself; '/apix' is not matched.
  app.use('/api/*', guard)
  const forward = async (c: Context<GatehouseEnv>) => {
    const url = new URL(c.req.url)
    const target = new URL(upstream)
    target.pathname = basePath + (url.pathname.slice('/api'.length) || '/')
    target.search = url.search
    const request = c.req.raw
    const headers = forwardedHeaders(request.headers, c.get('auth'), forwardAuthorization)
    headers.set('X-Request-Id', c.get('requestId'))
    headers.set('X-Forwarded-Host', url.host)
    headers.set('X-Forwarded-Proto', url.protocol.slice(0, -1))
    // The runtime's fetch negotiates and decodes the content encoding itself (see upstreamResponse).
    headers.delete('accept-encoding')

    const controller = new AbortController()
    const onClientAbort = () => controller.abort()
    request.signal.addEventListener('abort', onClientAbort, { once: true })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    const method = request.method
    // GET and HEAD have no body (fetch refuses one); not touching `request.body` for them also spares
    // @hono/node-server from building a full `Request` out of its lightweight one.
    const body = method === 'GET' || method === 'HEAD' ? null : request.body
    try {
      // Redirects are returned, not followed: following one would send identity headers elsewhere.
      const response = await upstreamFetch(target, {
        method,
        headers,
        body,
        ...(body === null ? {} : { duplex: 'half' }),
        redirect: 'manual',
        signal: controller.signal,
      } as RequestInit)
      return await upstreamResponse(response, method)
    } catch (err) {
      const code = timedOut ? 'upstream_timeout' : 'upstream_unavailable'
      c.set('errorCode', code)
      deps.logger.log({
        level: 'warn',
        msg: 'upstream request failed',
        requestId: c.get('requestId'),
        error: code,
        errorName: err instanceof Error ? err.name : typeof err,
      })
      // Transient: 503 + Retry-After through the app's onError (error-response.ts).
      throw new UpstreamError(code, 'the upstream service did not answer')
    } finally {
      clearTimeout(timer)
    }
  }
  app.all('/api/*', forward)
  return app
}

/**
 * The headers sent upstream: the caller's, minus hop-by-hop ones (and those the `Connection` header
 * names), minus `Host`, minus every `X-Gatehouse-*` (spoofing), minus `Authorization` unless forwarded;
 * plus our identity headers.
 */
export function forwardedHeaders(
  incoming: Headers,
  verified: VerifiedToken,
  forwardAuthorization: boolean,
): Headers {
  const headers = new Headers(incoming)
  const drop = hopByHopNames(incoming)
  drop.add('host')
  if (!forwardAuthorization) drop.add('authorization')
  for (const name of headers.keys()) {
    if (name.startsWith(IDENTITY_PREFIX)) drop.add(name)
  }
  for (const name of drop) headers.delete(name)

  const { sub, scope, client_id: clientId } = verified.claims
  headers.set('X-Gatehouse-Subject', headerValue('sub', sub))
  if (scope !== undefined) headers.set('X-Gatehouse-Scope', headerValue('scope', scope))
  if (clientId !== undefined)
    headers.set('X-Gatehouse-Client-Id', headerValue('client_id', clientId))
  return headers
}

/**
 * The upstream's response as ours: minus hop-by-hop headers and those its `Connection` names (RFC 9110
 * §7.6.1); minus `Content-Encoding` and `Content-Length` when the runtime's fetch decoded the body
 * (the bytes we send are the decoded ones).
 *
 * A body of declared length up to `BUFFER_MAX_BYTES` is read here and sent as bytes: @hono/node-server
 * then writes head and body in one write instead of flushing the head and streaming the body (one
 * syscall less per request; `npm run bench:http` gateway row). Larger, unsized (streamed, e.g.
 * server-sent events) and decoded bodies stream through unchanged.
 */
async function upstreamResponse(response: Response, method: string): Promise<Response> {
  const headers = new Headers(response.headers)
  for (const name of hopByHopNames(response.headers)) headers.delete(name)
  let body: BodyInit | null = response.body
  if (headers.has('content-encoding')) {
    headers.delete('content-encoding')
    headers.delete('content-length')
  } else if (body !== null && method !== 'HEAD' && isSmall(headers.get('content-length'))) {
    body = new Uint8Array(await response.arrayBuffer())
  }
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  })
}

function isSmall(contentLength: string | null): boolean {
  return (
    contentLength !== null && /^\d{1,9}$/.test(contentLength) && +contentLength <= BUFFER_MAX_BYTES
  )
}

/** A claim that cannot travel unchanged in a header is refused rather than mangled or encoded. */
function headerValue(claim: string, value: unknown): string {
  if (typeof value === 'string' && HEADER_SAFE.test(value)) return value
  throw new AuthError('claim_invalid', `the ${claim} claim cannot be forwarded as a header`)
}
