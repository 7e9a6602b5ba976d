/**
 * Edge forwarding (docs/architecture.md, "Two runtimes, one app"): the Worker holds no private keys
 * and no password hashes, so it forwards the minting routes to the origin through the forwarder
 * (forwarder.ts: headers set from this hop, body limit, one deadline, circuit breaker, 503 +
 * `Retry-After` while the origin is down). The verification routes, served locally, never depend on it.
 *
 * Discovery and the JWKS are not forwarded: the origins publish them in L2 with the key set, atomically
 * with each rotation, and the edge serves them from its L1/L2 copy (src/http/edge-keys.ts), so they stay
 * up, and tokens keep verifying, through an origin outage (issue 12 item 3).
 *
 * What the origin sees: the same method, path (under `originUrl`'s path), query and body, the
 * caller's headers as forwarded-headers.ts leaves them, `X-Forwarded-For` from `cf-connecting-ip`
 * (set by Cloudflare, not spoofable), and this request's `traceparent` when tracing is on. What the
 * caller gets: the origin's response as is (status, `Set-Cookie`, `Location` — redirects are returned,
 * never followed), minus hop-by-hop headers.
 */
import { Hono, type Context } from 'hono'
import type { Clock } from '../core/types.ts'
import type { CircuitBreakerOptions } from './circuit-breaker.ts'
import { cloudflareClientIp } from './client-ip.ts'
import { createForwarder, type Forwarder, type ForwardRoute } from './forwarder.ts'
import { errorHandler } from './error-response.ts'
import { createJsonLogger, type Logger } from './log.ts'
import type { GatehouseEnv } from './types.ts'

export const DEFAULT_ORIGIN_TIMEOUT_MS = 5000
/** OAuth requests are small forms; 64 KiB is generous and keeps a slow-loris body short. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024

// ---- The forwarded routes, all of them, relative to the issuer's path (`basePath`). ----

/** Minting and session routes: every method the forwarder forwards. */
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

export interface OriginProxyOptions {
  /** Absolute http(s) URL of the origin, without query; request paths are appended to its path. */
  originUrl: string
  /** Default `globalThis.fetch`; tests inject one. */
  fetch?: typeof fetch
  /** Deadline for the whole origin exchange, bodies included. Default 5,000 ms. */
  timeoutMs?: number
  /** Request bodies above this are refused with 413 before the origin is called. Default 64 KiB. */
  maxBodyBytes?: number
  /** Breaker thresholds; the probe lease defaults to the timeout plus one second. */
  breaker?: Omit<CircuitBreakerOptions, 'now'>
  /** The issuer URL's path (e.g. `/tenant-a`), so `/tenant-a/token` is forwarded. Default ''. */
  basePath?: string
  /** More issuer paths forwarded alike: path-based tenants' `${basePath}/t/:tenant` (docs/tenancy.md). */
  extraBasePaths?: readonly string[]
  /** Reads the client IP; default the `cf-connecting-ip` header Cloudflare sets. */
  clientIp?: (c: Context<GatehouseEnv>) => string | undefined
  logger?: Logger
  /** Milliseconds since the epoch, for the breaker. Default `Date.now`. */
  now?: Clock
}

/** The origin proxy's route group and its forwarder (whose breaker tests and operators watch). */
export type OriginProxy = Hono<GatehouseEnv> & {
  readonly forwarder: Forwarder
  /**
   * Forwards this request as it is (its path under `originUrl`), with the same checks and breaker,
   * for a request its caller matched: a custom-host tenant's minting routes (docs/tenancy.md).
   */
  forwardAsIs(c: Context<GatehouseEnv>): Promise<Response>
}

/**
 * The forwarding route group; mount it on the edge app (`createApp({ role: 'edge', routes: [...] })`).
 * Never answers 500 and never waits past `timeoutMs` for the origin.
 *
 * @example
 * const proxy = createOriginProxy({ originUrl: 'https://origin.internal', breaker: { failureThreshold: 5, openSeconds: 30 } })
 * app.route('/', proxy)
 */
export function createOriginProxy(options: OriginProxyOptions): OriginProxy {
  const origin = parseOriginUrl(options.originUrl)
  const originBase = origin.href.slice(0, origin.href.length - origin.pathname.length)
  const originPath = origin.pathname.replace(/\/+$/, '')
  const basePaths = [options.basePath ?? '', ...(options.extraBasePaths ?? [])].map((p) =>
    p.replace(/\/+$/, ''),
  )
  for (const basePath of basePaths)
    if (basePath !== '' && !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(basePath))
      throw new TypeError('createOriginProxy: basePath must be a URL path starting with "/"')
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0)
    throw new TypeError('createOriginProxy: maxBodyBytes must be a non-negative integer')
  const forwarder = createForwarder({
    name: 'origin',
    label: 'the authorization server',
    timeoutMs: options.timeoutMs ?? DEFAULT_ORIGIN_TIMEOUT_MS,
    maxBodyBytes,
    clientIp: options.clientIp ?? cloudflareClientIp,
    ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  const toOrigin = forwarder.forward((c): ForwardRoute => {
    const url = c.req.url
    const route: ForwardRoute = {
      url: originBase + originPath + url.slice(url.indexOf('/', url.indexOf('//') + 2)),
    }
    // W3C Trace Context: with tracing on, the origin's span continues this request's (tracing.ts).
    const traceparent = c.get('traceparent')
    return traceparent === undefined ? route : { ...route, headers: [['traceparent', traceparent]] }
  })

  const app = new Hono<GatehouseEnv>()
  for (const basePath of new Set(basePaths))
    for (const path of MINTING_PATHS) app.all(`${basePath}${path}`, forwarder.precheck, toOrigin)
  // Mounted in createApp, the app's onError renders errors; this one does the same on its own.
  app.onError(errorHandler(options.logger ?? createJsonLogger({ level: 'silent' }), 'gatehouse'))
  const forwardAsIs = async (c: Context<GatehouseEnv>): Promise<Response> => {
    let response: Response | undefined
    await forwarder.precheck(c, async () => void (response = await toOrigin(c)))
    return response as Response // precheck either calls on or throws
  }
  return Object.assign(app, { forwarder, forwardAsIs })
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
