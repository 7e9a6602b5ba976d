/**
 * The origin finds a request's tenant once, here, before any route runs (docs/architecture.md, "Next
 * parts"): by custom host first, then by the path of a path-based issuer (`/t/{id}/...`, and RFC 8414
 * §3.1's `/.well-known/oauth-authorization-server/t/{id}`). The request then goes to that tenant's
 * OAuth route group (origin-tenant.ts), which sees only the tenant's context. Requests for no tenant
 * fall through to the default tenant's routes, unchanged.
 *
 * The Host header may choose a tenant here: whoever sends it talks to that tenant's endpoints, which
 * mint only that tenant's tokens with its keys. Verification never trusts it (the edge picks the
 * tenant from the token's `iss`, edge-tenants.ts).
 *
 * @example
 * createApp({ role: 'origin', middleware: [tenantDispatch({ contexts, follower })], ... })
 */
import type { Context, MiddlewareHandler } from 'hono'
import { GatehouseError } from '../core/errors.ts'
import { ENDPOINTS } from '../core/oauth/endpoints.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { executionContextOf } from '../http/verification-request.ts'
import type { OriginTenant } from './origin-tenant.ts'
import type { RegistryFollower } from './registry-follower.ts'
import type { TenantContexts, TenantEntry } from './tenant-contexts.ts'
import { isTenantId } from './tenant-id.ts'
import { TENANT_PATH_SEGMENT } from './tenant-record.ts'

export interface TenantDispatchOptions {
  contexts: TenantContexts<OriginTenant>
  follower: Pick<RegistryFollower, 'prepare' | 'maybeSync' | 'policy'>
  /** The default issuer's host: requests to it never look a tenant up by host. */
  defaultHost?: string
  /** The host a request was sent to. Default: the `Host` header. */
  requestHost?: (c: Context<GatehouseEnv>) => string | undefined
}

const TENANT_IN_PATH = new RegExp(`/${TENANT_PATH_SEGMENT}/([a-z0-9-]{1,63})(?=/|$)`)
const WELL_KNOWN_AS = '/.well-known/oauth-authorization-server'

/** The registry cannot be read and the policy is closed: no tenant is served on stale data. */
class RegistryUnavailable extends GatehouseError {
  override readonly name: string = 'RegistryUnavailable'
  constructor() {
    super({
      code: 'tenant_registry_unavailable',
      description: 'The service is temporarily unavailable.',
      status: 503,
      rfcError: 'temporarily_unavailable',
      retryAfterSeconds: 5,
    })
  }
}

/** True when `path` is one of the tenant's routes: under its issuer's path, or RFC 8414's form. */
function servedBy(entry: TenantEntry<OriginTenant>, path: string): boolean {
  const base = new URL(entry.record.issuer).pathname.replace(/\/+$/, '')
  return path.startsWith(`${base}/`) || path === `${WELL_KNOWN_AS}${base}`
}

/**
 * @example app.use(tenantDispatch({ contexts, follower, defaultHost: 'auth.example.com' }))
 */
export function tenantDispatch(options: TenantDispatchOptions): MiddlewareHandler<GatehouseEnv> {
  const { contexts, follower, defaultHost } = options
  const hostOf = options.requestHost ?? ((c) => c.req.header('host')?.toLowerCase())

  async function find(c: Context<GatehouseEnv>): Promise<TenantEntry<OriginTenant> | undefined> {
    const path = c.req.path
    const host = hostOf(c)
    if (host !== undefined && host !== defaultHost) {
      const entry = await contexts.byHost(host)
      if (entry) return entry
    }
    const id = TENANT_IN_PATH.exec(path)?.[1]
    if (id === undefined || !isTenantId(id)) return undefined
    const entry = await contexts.byId(id)
    return entry && servedBy(entry, path) ? entry : undefined
  }

  return async (c, next) => {
    const execution = executionContextOf(c)
    follower.maybeSync(execution ? (p) => execution.waitUntil(p) : undefined)
    if ((await follower.prepare()) && follower.policy === 'closed') throw new RegistryUnavailable()
    const entry = await find(c)
    if (entry === undefined) return next()
    c.set('tenant', entry.id)
    const tenant = entry.context
    const base = new URL(entry.record.issuer).pathname.replace(/\/+$/, '')
    const minting = c.req.method === 'POST' && c.req.path === `${base}${ENDPOINTS.token}`
    const quota = minting ? tenant.mintQuota : undefined
    await quota?.check()
    const response = await tenant.routes.fetch(c.req.raw, c.env, execution)
    // A token was issued: count it. A counter that cannot be written does not undo the mint.
    if (quota && response.status === 200) await quota.count().catch(() => {})
    return response
  }
}
