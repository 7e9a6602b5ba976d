/**
 * Tenants' own URLs at the edge (docs/tenancy.md, "At the edge"): each tenant's discovery and JWKS,
 * served from the key set its origin publishes in its namespace (src/http/edge-keys.ts, one per
 * tenant context, the same copy its verifier uses; never forwarded, never another tenant's set), and
 * a custom-host tenant's minting routes, forwarded to the origin as they are (the origin finds the
 * tenant by the forwarded host, origin-dispatch.ts).
 *
 * Which tenant a request is for:
 * - on a host a tenant registered (`hosts`), that tenant: its issuer's well-known paths are served
 *   and its minting paths forwarded; any other well-known path is 404 there (a tenant's host never
 *   describes another issuer); the rest goes on to the other routes (`/verify`, …);
 * - else, for a well-known path, the path-based tenant whose id is in the path (`/t/{id}/…`).
 * The Host picks only which published documents are served and where a minting request goes; the
 * tenant a token is verified for is chosen from its `iss` alone (edge-tenants.ts). Requests to the
 * default issuer's host, and to paths that are neither well-known nor minting, never look anything up.
 *
 * A removed tenant stops being served within the registry follower's bound, as its tokens stop
 * verifying.
 *
 * @example createApp({ role: 'edge', middleware: [tenantEdgeRoutes({ contexts, follower })], ... })
 */
import type { Context, MiddlewareHandler } from 'hono'
import { GatehouseError } from '../core/errors.ts'
import { MINTING_PATHS } from '../http/origin-proxy.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { executionContextOf } from '../http/verification-request.ts'
import type { EdgeTenant } from './edge-tenants.ts'
import type { RegistryFollower } from './registry-follower.ts'
import type { TenantContexts, TenantEntry } from './tenant-contexts.ts'
import { isTenantId } from './tenant-id.ts'
import { TENANT_PATH_SEGMENT } from './tenant-record.ts'

/** Forwards this request to the origin as it is (origin-proxy.ts's `forwardAsIs`). */
export type ForwardToOrigin = (c: Context<GatehouseEnv>) => Promise<Response>

export interface TenantEdgeRoutesOptions {
  contexts: TenantContexts<EdgeTenant>
  follower: Pick<RegistryFollower, 'prepare' | 'maybeSync' | 'policy'>
  /** The default issuer's host (`auth.example.com`): requests to it never look a tenant up by host. */
  defaultHost?: string
  /** The origin forwarder, once the app has one (no `GATEHOUSE_ORIGIN_URL`: none, so 404). */
  forward?: () => ForwardToOrigin | undefined
}

const TENANT_IN_PATH = new RegExp(`/${TENANT_PATH_SEGMENT}/([a-z0-9-]{1,63})(?=/|$)`)
const WELL_KNOWN = '/.well-known/'

// The minting routes relative to an issuer's path: exact ones, and prefixes (`/login/*`).
const MINTING_EXACT = new Set(MINTING_PATHS.filter((p) => !p.endsWith('/*')))
const MINTING_PREFIXES = MINTING_PATHS.filter((p) => p.endsWith('/*')).map((p) => p.slice(0, -1))
/** A path that could be some issuer's minting route: the only ones a host lookup is spent on. */
const MINTING_LIKE = new RegExp(
  `(?:${[...MINTING_EXACT].map((p) => `${p}$`).join('|')}|${MINTING_PREFIXES.join('|')})`,
)

/** The well-known paths of an issuer (as src/http/edge-keys.ts mounts them). */
function metadataPaths(issuer: string): Set<string> {
  const base = issuerPath(issuer)
  return new Set([
    `${base}/.well-known/openid-configuration`,
    `/.well-known/oauth-authorization-server${base}`,
    `${base}/.well-known/oauth-authorization-server`,
    `${base}/.well-known/jwks.json`,
  ])
}

const issuerPath = (issuer: string): string => new URL(issuer).pathname.replace(/\/+$/, '')

function isMintingPath(base: string, path: string): boolean {
  if (!path.startsWith(base)) return false
  const rest = path.slice(base.length)
  return MINTING_EXACT.has(rest as never) || MINTING_PREFIXES.some((p) => rest.startsWith(p))
}

const registryUnavailable = () =>
  new GatehouseError({
    code: 'tenant_registry_unavailable',
    description: 'The service is temporarily unavailable.',
    status: 503,
    rfcError: 'temporarily_unavailable',
    retryAfterSeconds: 5,
  })

/**
 * The middleware; runs before the edge's routes.
 *
 * @example tenantEdgeRoutes({ contexts, follower, defaultHost: 'auth.example.com', forward: () => proxy?.forwardAsIs })
 */
export function tenantEdgeRoutes(
  options: TenantEdgeRoutesOptions,
): MiddlewareHandler<GatehouseEnv> {
  const { contexts, follower, defaultHost } = options
  // Per tenant context, built once: its issuer's well-known paths and path.
  const described = new WeakMap<EdgeTenant, { metadata: Set<string>; base: string }>()
  const describe = (entry: TenantEntry<EdgeTenant>) => {
    let d = described.get(entry.context)
    if (!d) {
      d = { metadata: metadataPaths(entry.record.issuer), base: issuerPath(entry.record.issuer) }
      described.set(entry.context, d)
    }
    return d
  }

  const metadata = (
    entry: TenantEntry<EdgeTenant> | undefined,
    c: Context<GatehouseEnv>,
  ): Response | Promise<Response> | undefined => {
    const keys = entry?.context.keys
    if (!entry || !keys || !describe(entry).metadata.has(c.req.path)) return undefined
    return keys.routes.fetch(c.req.raw, c.env, executionContextOf(c))
  }

  return async (c, next) => {
    const path = c.req.path
    const wellKnown = path.includes(WELL_KNOWN)
    const pathId = wellKnown ? TENANT_IN_PATH.exec(path)?.[1] : undefined
    // The host the request was sent to (in a Worker, the request URL's), only when it may matter.
    const host = wellKnown || MINTING_LIKE.test(path) ? new URL(c.req.url).host : undefined
    const byHost = host !== undefined && host !== defaultHost
    if (!byHost && (pathId === undefined || !isTenantId(pathId))) return next()

    const execution = executionContextOf(c)
    follower.maybeSync(execution ? (p) => execution.waitUntil(p) : undefined)
    if ((await follower.prepare()) && follower.policy === 'closed') throw registryUnavailable()

    const hosted = byHost ? await contexts.byHost(host) : undefined
    if (hosted) {
      const served = metadata(hosted, c)
      if (served) return served
      if (wellKnown) return c.notFound()
      const forward = isMintingPath(describe(hosted).base, path) ? options.forward?.() : undefined
      return forward ? forward(c) : next()
    }
    if (pathId === undefined || !isTenantId(pathId)) return next()
    return (await metadata(await contexts.byId(pathId), c)) ?? next()
  }
}
