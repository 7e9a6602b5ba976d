/**
 * Gateway mode: requests under `/api/` are verified and forwarded to the upstream with the caller's
 * identity in `X-Gatehouse-*` headers (docs/gateway.md). The upstream trusts those headers, so any
 * incoming header of the same prefix is removed first, and the `Authorization` header is removed
 * unless configured. Everything about forwarding itself (headers, body limit, deadline, breaker,
 * refusals) is the forwarder's (forwarder.ts).
 *
 * Path mapping: the `/api` prefix is stripped and the rest appended to the upstream URL's path, with the
 * query string unchanged: upstream `https://orders.internal/v1` + `GET /api/orders?page=2` →
 * `GET https://orders.internal/v1/orders?page=2`.
 */
import { Hono, type Context } from 'hono'
import { AuthError } from '../core/errors.ts'
import type { Clock, VerifiedToken } from '../core/types.ts'
import { cors } from './cors.ts'
import { createForwarder, type Forwarder, type UpstreamFetch } from './forwarder.ts'
import type { Logger } from './log.ts'
import type { DpopGuard } from './dpop-guard.ts'
import { mountPolicyRoutes } from '../policy/route-table.ts'
import { RequestError } from './request-errors.ts'
import { requireAuth } from './require-auth.ts'
import type { GatehouseEnv, GatewayOptions, TokenVerifier } from './types.ts'

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000
/** API bodies are read whole before forwarding (forwarder.ts); larger uploads bypass the gateway. */
export const DEFAULT_UPSTREAM_MAX_BODY_BYTES = 1024 * 1024

const IDENTITY_PREFIX = 'x-gatehouse-'
// Visible ASCII with no surrounding space: what survives a header round trip unchanged.
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

export interface GatewayDeps extends GatewayOptions {
  verifier: TokenVerifier
  /** DPoP proofs of requests that present a DPoP-bound token (RFC 9449 §7). */
  dpop: DpopGuard
  realm: string
  logger: Logger
  fetch?: UpstreamFetch
  now?: Clock
  /** The client's address as this runtime knows it, sent upstream as `X-Forwarded-For`. */
  clientIp?: (c: Context<GatehouseEnv>) => string | undefined
}

/**
 * The gateway route group, mounted by `createApp` when an upstream URL is configured. The order is
 * the contract: CORS preflights, the forwarder's refusals, authentication, then (where a policy
 * point is added) authorization, then forwarding.
 *
 * @example app.route('/', gatewayRoutes({ url: 'https://orders.internal', verifier, realm, logger }))
 */
export function gatewayRoutes(deps: GatewayDeps): Hono<GatehouseEnv> {
  const upstream = new URL(deps.url)
  if (upstream.search || upstream.hash) throw new TypeError('gateway: url must not have a query')
  const base = upstream.href.slice(0, upstream.href.length - upstream.pathname.length)
  const basePath = upstream.pathname.replace(/\/+$/, '')
  const forwardAuthorization = deps.forwardAuthorization ?? false
  const forwarder: Forwarder = createForwarder({
    name: 'upstream',
    label: 'the upstream service',
    timeoutMs: deps.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    maxBodyBytes: deps.maxBodyBytes ?? DEFAULT_UPSTREAM_MAX_BODY_BYTES,
    logger: deps.logger,
    ...(deps.breaker === undefined ? {} : { breaker: deps.breaker }),
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
    ...(deps.clientIp === undefined ? {} : { clientIp: deps.clientIp }),
    dropHeader: (name) =>
      name.startsWith(IDENTITY_PREFIX) || (!forwardAuthorization && name === 'authorization'),
  })

  const app = new Hono<GatehouseEnv>()
  // CORS first: a preflight carries no token and must be answered before the guard refuses it.
  if (deps.allowedOrigins !== undefined && deps.allowedOrigins.length > 0)
    app.use('/api/*', cors({ allowedOrigins: deps.allowedOrigins }))
  // Hono's '/api/*' also matches '/api' itself; '/apix' is not matched.
  app.use('/api/*', forwarder.precheck)
  app.use(
    '/api/*',
    requireAuth({
      verifier: deps.verifier,
      scopes: deps.scopes ?? [],
      realm: deps.realm,
      dpop: deps.dpop,
    }),
  )
  // Verified → (policy) → forward: Cedar decides the route table's routes here (docs/policy.md);
  // a route outside the table never loads the engine.
  if (deps.policy) {
    mountPolicyRoutes(app, '/api', {
      ...deps.policy,
      logger: deps.logger,
      ...(deps.clientIp === undefined ? {} : { clientIp: deps.clientIp }),
    })
  }
  app.all(
    '/api/*',
    forwarder.forward((c) => {
      const url = c.req.url
      const start = url.indexOf('/', url.indexOf('//') + 2)
      const pathAndQuery = url.slice(start)
      // The router matched the decoded path; the raw one must carry the prefix literally too.
      if (!/^\/api(?:[/?]|$)/.test(pathAndQuery))
        throw new RequestError('request_target_invalid', 'the /api prefix must not be encoded')
      const rest = pathAndQuery.slice('/api'.length)
      return {
        url: base + basePath + (rest === '' || rest[0] === '?' ? `/${rest}` : rest),
        headers: identityHeaders(c.get('auth')),
      }
    }),
  )
  return app
}

/** The caller's identity for the upstream; a claim that cannot travel unchanged is refused. */
export function identityHeaders(verified: VerifiedToken): [string, string][] {
  const { sub, scope, client_id: clientId } = verified.claims
  const headers: [string, string][] = [['X-Gatehouse-Subject', headerValue('sub', sub)]]
  if (scope !== undefined) headers.push(['X-Gatehouse-Scope', headerValue('scope', scope)])
  if (clientId !== undefined)
    headers.push(['X-Gatehouse-Client-Id', headerValue('client_id', clientId)])
  return headers
}

/** A claim that cannot travel unchanged in a header is refused rather than mangled or encoded. */
function headerValue(claim: string, value: unknown): string {
  if (typeof value === 'string' && HEADER_SAFE.test(value)) return value
  throw new AuthError('claim_invalid', `the ${claim} claim cannot be forwarded as a header`)
}
