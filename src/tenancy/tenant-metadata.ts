/**
 * Path-based tenants' discovery and JWKS at the edge (docs/tenancy.md): served from the key set the
 * tenant's origin publishes in the tenant's namespace (src/http/edge-keys.ts, one per tenant context,
 * the same copy the tenant's verifier uses), never forwarded to the origin and never from another
 * tenant's set. The tenant is the one whose id is in the path, and the path must be one of the
 * well-known paths of that tenant's issuer; anything else goes on to the other routes.
 *
 * A removed tenant stops being described within the registry follower's bound, as its tokens stop
 * verifying.
 *
 * @example createApp({ role: 'edge', middleware: [tenantMetadata({ contexts, follower })], ... })
 */
import type { MiddlewareHandler } from 'hono'
import { GatehouseError } from '../core/errors.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { executionContextOf } from '../http/verification-request.ts'
import type { EdgeTenant } from './edge-tenants.ts'
import type { RegistryFollower } from './registry-follower.ts'
import type { TenantContexts } from './tenant-contexts.ts'
import { isTenantId } from './tenant-id.ts'
import { TENANT_PATH_SEGMENT } from './tenant-record.ts'

export interface TenantMetadataOptions {
  contexts: TenantContexts<EdgeTenant>
  follower: Pick<RegistryFollower, 'prepare' | 'maybeSync' | 'policy'>
}

const TENANT_IN_PATH = new RegExp(`/${TENANT_PATH_SEGMENT}/([a-z0-9-]{1,63})(?=/|$)`)
const WELL_KNOWN = '/.well-known/'

/** The well-known paths of an issuer (as src/http/edge-keys.ts mounts them). */
function metadataPaths(issuer: string): Set<string> {
  const base = new URL(issuer).pathname.replace(/\/+$/, '')
  return new Set([
    `${base}/.well-known/openid-configuration`,
    `/.well-known/oauth-authorization-server${base}`,
    `${base}/.well-known/oauth-authorization-server`,
    `${base}/.well-known/jwks.json`,
  ])
}

const registryUnavailable = () =>
  new GatehouseError({
    code: 'tenant_registry_unavailable',
    description: 'The service is temporarily unavailable.',
    status: 503,
    rfcError: 'temporarily_unavailable',
    retryAfterSeconds: 5,
  })

export function tenantMetadata(options: TenantMetadataOptions): MiddlewareHandler<GatehouseEnv> {
  const { contexts, follower } = options
  const paths = new WeakMap<EdgeTenant, Set<string>>()
  return async (c, next) => {
    const path = c.req.path
    const id = path.includes(WELL_KNOWN) ? TENANT_IN_PATH.exec(path)?.[1] : undefined
    if (id === undefined || !isTenantId(id)) return next()
    const execution = executionContextOf(c)
    follower.maybeSync(execution ? (p) => execution.waitUntil(p) : undefined)
    if ((await follower.prepare()) && follower.policy === 'closed') throw registryUnavailable()
    const entry = await contexts.byId(id)
    const keys = entry?.context.keys
    if (!entry || !keys) return next()
    let own = paths.get(entry.context)
    if (!own) paths.set(entry.context, (own = metadataPaths(entry.record.issuer)))
    if (!own.has(path)) return next()
    return keys.routes.fetch(c.req.raw, c.env, execution)
  }
}
