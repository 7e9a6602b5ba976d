/**
 * Edge forwarding (DESIGN.md, "Two runtimes, one app"): the Worker holds no private keys and no password
 * hashes, so it forwards the minting routes — /authorize, /login/*, /token, /revoke, /introspect,
 * /userinfo, /logout — to the origin, with a deadline and a circuit breaker. While the breaker is open
 * it answers 503 `temporarily_unavailable` with `Retry-After` without calling the origin, and the
 * verification routes (served locally) are untouched.
 *
 * Discovery and the JWKS are forwarded too, because the origin is their single source of truth; the
 * origin's `Cache-Control` (public, max-age=300) passes through, and the last good copy is kept per
 * isolate and served while the origin is unreachable — resource servers fetching our JWKS to verify
 * tokens keep working through an origin outage.
 *
 * What the origin sees: the same method, path (under `originUrl`'s path), query and body (streamed, with
 * a size cap), the caller's headers minus hop-by-hop ones (RFC 9110 §7.6.1) and minus client-supplied
 * forwarding headers, plus `X-Forwarded-For` (the client IP from `cf-connecting-ip`, set by Cloudflare
 * and not spoofable; dropped when unknown), `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Request-Id`.
 * What the caller gets: the origin's response as is (status, `Set-Cookie`, `Location` — redirects are
 * returned, never followed), minus hop-by-hop headers.
 */
import { Hono, type Context } from 'hono'
import type { Clock } from '../core/types.ts'
import { createCircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts'
import type { Logger } from './log.ts'
import type { GatehouseEnv } from './types.ts'
import { hopByHopNames } from './hop-by-hop.ts'

export const DEFAULT_ORIGIN_TIMEOUT_MS = 5000
/** OAuth requests are small forms; 64 KiB is generous and keeps a slow-loris body short. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024
/** Discovery and JWKS copies larger than this are not kept for outages. */
const MAX_CACHED_METADATA_BYTES = 64 * 1024

/** Paths forwarded to the origin, relative to the issuer's path (`basePath`). */
export const MINTING_PATHS = [
  '/authorize',
  '/login',
  '/login/*',
  '/token',
  '/revoke',
  '/introspect',
  '/userinfo',
  '/logout',
] as const

// Who the client is, where it connected: only the edge may say so, never the client itself.
const CLIENT_ASSERTED = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
]
const IP = /^[0-9A-Fa-f:.]{2,45}$/

export interface OriginProxyOptions {
  /** Absolute http(s) URL of the origin, without query; request paths are appended to its path. */
  originUrl: string
  /** Default `globalThis.fetch`; tests inject one. */
  fetch?: typeof fetch
  /** Deadline for the whole origin exchange, response body included. Default 5,000 ms. */
  timeoutMs?: number
  /** Request bodies above this are refused with 413 before (or while) forwarding. Default 64 KiB. */
  maxBodyBytes?: number
  /** Breaker thresholds; the probe lease defaults to the timeout plus one second. */
  breaker?: Omit<CircuitBreakerOptions, 'now'>
  /** The issuer URL's path (e.g. `/tenant-a`), so `/tenant-a/token` is forwarded. Default ''. */
  basePath?: string
  /** Reads the client IP; default the `cf-connecting-ip` header Cloudflare sets. */
  clientIp?: (request: Request) => string | undefined
  logger?: Logger
  /** Milliseconds since the epoch, for the breaker. Default `Date.now`. */
  now?: Clock
}

const NO_STORE = 'no-store'

class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge'
}

/**
 * The forwarding route group; mount it on the edge app (`createApp({ role: 'edge', routes: [...] })`).
 * Never answers 500 and never waits past `timeoutMs` for the origin.
 *
 * @example
 * const proxy = createOriginProxy({ originUrl: 'https://origin.internal', breaker: { failureThreshold: 5, openSeconds: 30 } })
 * app.route('/', proxy)
 */
export function createOriginProxy(options: OriginProxyOptions): Hono<GatehouseEnv> {
  const origin = parseOriginUrl(options.originUrl)
  const originBase = origin.pathname.replace(/\/+$/, '')
  const timeoutMs = options.timeoutMs ?? DEFAULT_ORIGIN_TIMEOUT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 300_000)
    throw new TypeError('createOriginProxy: timeoutMs must be an integer between 1 and 300000')
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0)
    throw new TypeError('createOriginProxy: maxBodyBytes must be a non-negative integer')
  const basePath = (options.basePath ?? '').replace(/\/+$/, '')
  if (basePath !== '' && !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(basePath))
    throw new TypeError('createOriginProxy: basePath must be a URL path starting with "/"')
  const originFetch = options.fetch ?? ((input, init) => fetch(input, init))
  const clientIp =
    options.clientIp ?? ((r: Request) => r.headers.get('cf-connecting-ip') ?? undefined)
  const breaker = createCircuitBreaker({
    probeLeaseSeconds: Math.ceil(timeoutMs / 1000) + 1,
    ...options.breaker,
    ...(options.now === undefined ? {} : { now: options.now }),
  })
  // Last good discovery/JWKS per path, in this isolate only: plain data, no promises (DESIGN.md, L1).
  const metadataCopies = new Map<
    string,
    { status: number; headers: [string, string][]; body: ArrayBuffer }
  >()
  const metadataPaths = new Set([
    `${basePath}/.well-known/openid-configuration`,
    `/.well-known/oauth-authorization-server${basePath}`,
    `${basePath}/.well-known/oauth-authorization-server`,
    `${basePath}/.well-known/jwks.json`,
  ])

  const unavailable = (
    c: Context<GatehouseEnv>,
    code: string,
    status: 502 | 503 | 504,
    retryAfter?: number,
  ) => {
    c.set('errorCode', code)
    const stale = c.req.method === 'GET' ? metadataCopies.get(c.req.path) : undefined
    if (stale)
      return new Response(stale.body.slice(0), { status: stale.status, headers: stale.headers })
    const headers = new Headers({ 'Cache-Control': NO_STORE, 'Content-Type': 'application/json' })
    // Every "origin unavailable" answer says when to come back (RFC 9110 §10.2.3): the breaker's
    // remaining open time, or 1 s after a single failed attempt (502/504) before it opened.
    headers.set('Retry-After', String(retryAfter ?? 1))
    // RFC 6749 §4.1.2.1 / §5.2: `temporarily_unavailable` is the OAuth word for "try again later".
    const body = {
      error: 'temporarily_unavailable',
      error_description:
        status === 503
          ? 'the authorization server is temporarily unavailable; retry later'
          : status === 504
            ? 'the authorization server did not answer in time'
            : 'the authorization server could not be reached',
    }
    return new Response(JSON.stringify(body), { status, headers })
  }

  const forward = async (c: Context<GatehouseEnv>): Promise<Response> => {
    const request = c.req.raw
    const declared = request.headers.get('content-length')
    if (declared !== null && !(/^\d+$/.test(declared) && Number(declared) <= maxBodyBytes)) {
      c.set('errorCode', 'body_too_large')
      return Response.json(
        { error: 'invalid_request', error_description: 'the request body is too large' },
        { status: 413, headers: { 'Cache-Control': NO_STORE } },
      )
    }

    const admission = breaker.admit()
    if (!admission.allowed)
      return unavailable(c, 'origin_circuit_open', 503, admission.retryAfterSeconds)

    const url = new URL(request.url)
    const target = new URL(origin)
    target.pathname = originBase + url.pathname
    target.search = url.search
    const headers = forwardedHeaders(request.headers, {
      clientIp: clientIp(request),
      host: url.host,
      proto: url.protocol.slice(0, -1),
      requestId: c.get('requestId'),
    })
    // W3C Trace Context: with tracing on, the origin's span continues this request's (tracing.ts).
    const traceparent = c.get('traceparent')
    if (traceparent !== undefined) headers.set('traceparent', traceparent)

    const controller = new AbortController()
    let timedOut = false
    let clientGone = false
    let tooLarge = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    const onClientAbort = () => {
      clientGone = true
      controller.abort()
    }
    request.signal?.addEventListener('abort', onClientAbort, { once: true })
    const finish = () => {
      clearTimeout(timer)
      request.signal?.removeEventListener('abort', onClientAbort)
    }

    const hasBody = request.body !== null && request.method !== 'GET' && request.method !== 'HEAD'
    const init: RequestInit & { duplex?: 'half' } = {
      method: request.method,
      headers,
      redirect: 'manual',
      signal: controller.signal,
    }
    if (hasBody) {
      init.body = capped(request.body, maxBodyBytes, () => {
        tooLarge = true
      })
      init.duplex = 'half' // required by fetch for a streamed request body
    }

    let response: Response
    try {
      response = await originFetch(target.toString(), init)
    } catch (err) {
      finish()
      if (tooLarge || clientGone) {
        // Not the origin's fault: no evidence either way, so a probe slot is handed back.
        breaker.release(admission)
        c.set('errorCode', tooLarge ? 'body_too_large' : 'client_closed')
        return Response.json(
          tooLarge
            ? { error: 'invalid_request', error_description: 'the request body is too large' }
            : { error: 'invalid_request', error_description: 'the client closed the request' },
          { status: tooLarge ? 413 : 400, headers: { 'Cache-Control': NO_STORE } },
        )
      }
      breaker.record(admission, false)
      const code = timedOut ? 'origin_timeout' : 'origin_unreachable'
      options.logger?.log({
        level: 'warn',
        msg: 'origin request failed',
        requestId: c.get('requestId'),
        error: code,
        errorName: err instanceof Error ? err.name : typeof err,
        breaker: breaker.state,
      })
      return unavailable(c, code, timedOut ? 504 : 502)
    }

    // 502-504 from the origin (or its load balancer) mean it cannot serve: count them, pass them on
    // (or serve the last good discovery/JWKS copy instead).
    const failed = response.status >= 502 && response.status <= 504
    breaker.record(admission, !failed)
    if (failed) {
      c.set('errorCode', 'origin_unavailable')
      if (request.method === 'GET' && metadataCopies.has(c.req.path)) {
        finish()
        await response.body?.cancel().catch(() => {})
        return unavailable(c, 'origin_unavailable', 503)
      }
    }

    const outHeaders = responseHeaders(response.headers)
    if (request.method === 'GET' && response.status === 200 && metadataPaths.has(c.req.path)) {
      // Discovery and JWKS are small: read them whole (still under the deadline) to keep a copy.
      let body: ArrayBuffer
      try {
        body = await response.arrayBuffer()
      } catch {
        return unavailable(
          c,
          timedOut ? 'origin_timeout' : 'origin_unreachable',
          timedOut ? 504 : 502,
        )
      } finally {
        finish()
      }
      if (body.byteLength <= MAX_CACHED_METADATA_BYTES) {
        metadataCopies.set(c.req.path, { status: 200, headers: [...outHeaders], body })
      }
      return new Response(body.slice(0), { status: 200, headers: outHeaders })
    }
    if (response.body === null) {
      finish()
      return new Response(null, {
        status: response.status,
        statusText: response.statusText,
        headers: outHeaders,
      })
    }
    const body = guarded(response.body, finish)
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: outHeaders,
    })
  }

  const app = new Hono<GatehouseEnv>()
  for (const path of MINTING_PATHS) app.all(`${basePath}${path}`, forward)
  for (const path of metadataPaths) app.on(['GET', 'HEAD', 'OPTIONS'], path, forward)
  return app
}

function parseOriginUrl(value: string): URL {
  const url = URL.canParse(value) ? new URL(value) : undefined
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
    throw new TypeError('createOriginProxy: originUrl must be an absolute http(s) URL')
  if (url.search || url.hash || url.username || url.password)
    throw new TypeError(
      'createOriginProxy: originUrl must not have a query, fragment or credentials',
    )
  return url
}

/**
 * The headers sent to the origin: the caller's minus hop-by-hop ones (and those `Connection` names),
 * minus `Host` (fetch sets the origin's), `Accept-Encoding` (so bodies need no re-encoding on the way
 * back), `Content-Length` (the body is re-streamed) and every client-asserted forwarding header; plus
 * ours.
 */
export function forwardedHeaders(
  incoming: Headers,
  edge: {
    clientIp: string | undefined
    host: string
    proto: string
    requestId: string | undefined
  },
): Headers {
  const headers = new Headers(incoming)
  const drop = hopByHopNames(incoming)
  for (const name of [...CLIENT_ASSERTED, 'host', 'accept-encoding', 'content-length'])
    drop.add(name)
  for (const name of drop) headers.delete(name)
  if (edge.clientIp !== undefined && IP.test(edge.clientIp))
    headers.set('X-Forwarded-For', edge.clientIp)
  headers.set('X-Forwarded-Host', edge.host)
  headers.set('X-Forwarded-Proto', edge.proto)
  if (edge.requestId !== undefined) headers.set('X-Request-Id', edge.requestId)
  return headers
}

/** The origin's response headers minus hop-by-hop ones; a decoded body loses its encoding headers. */
function responseHeaders(incoming: Headers): Headers {
  const headers = new Headers(incoming)
  for (const name of hopByHopNames(incoming)) headers.delete(name)
  // fetch decodes gzip/br bodies; passing the header on would make the client decode them twice.
  if (headers.has('content-encoding')) {
    headers.delete('content-encoding')
    headers.delete('content-length')
  }
  return headers
}

/** A pass-through stream that errors once more than `max` bytes went through. */
function capped(
  body: ReadableStream<Uint8Array>,
  max: number,
  onTooLarge: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let seen = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read()
      if (done) return controller.close()
      seen += value.byteLength
      if (seen > max) {
        onTooLarge()
        await reader.cancel().catch(() => {})
        return controller.error(new BodyTooLarge('request body too large'))
      }
      controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}

/** Passes the response body through and calls `done` once it ended, failed or was cancelled. */
function guarded(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: end } = await reader.read()
        if (end) {
          done()
          controller.close()
        } else {
          controller.enqueue(value)
        }
      } catch (err) {
        done()
        controller.error(err)
      }
    },
    cancel(reason) {
      done()
      return reader.cancel(reason)
    },
  })
}
