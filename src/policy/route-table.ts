/**
 * The gateway's policy route table (GATEHOUSE_POLICY_ROUTES): which upstream routes are decided by
 * Cedar, as which action, on which resource. Paths are Hono route templates relative to the gateway
 * prefix (`/api`), so `GET /api/documents/42` matches `{ "method": "GET", "path": "/documents/:id" }`
 * and is decided as `Action::"GET /documents/:id"` on `Document::"42"` when its resource is
 * `{ "type": "Document", "param": "id" }`.
 *
 *   { "unmatched": "allow",
 *     "routes": [{ "method": "GET", "path": "/documents/:id",
 *                  "resource": { "type": "Document", "param": "id" } }] }
 *
 * `tenant`: whose policy set decides. Absent (the usual case), the tenant whose issuer verified the
 * token (with GATEHOUSE_TENANCY, resolved from `iss`; otherwise the default tenant). Set, only that
 * tenant's tokens are decided; another tenant's token is denied (authorize.ts).
 *
 * `unmatched`: what happens to a gateway request no route matches: `allow` (default; verified and
 * forwarded, no policy, the engine never loaded) or `deny` (403 without asking Cedar).
 */
import type { Env, Hono, MiddlewareHandler } from 'hono'
import type { Clock } from '../core/types.ts'
import type { Logger } from '../http/log.ts'
import { authorize, type AuthorizeEnv } from './authorize.ts'
import type { PolicySets } from './policy-sets.ts'
import type { PolicyRouteTable } from '../core/policy-routes.ts'

export {
  parsePolicyRoutes,
  type PolicyRoute,
  type PolicyRouteTable,
} from '../core/policy-routes.ts'
import { requestIdOf, setErrorCode } from '../http/request-record.ts'

export interface PolicyRoutesOptions {
  table: PolicyRouteTable
  policySets: PolicySets
  logger?: Logger
  clientIp?: Parameters<typeof authorize>[0]['clientIp']
  now?: Clock
}

/**
 * Mounts one `authorize` per route of the table under `prefix`, after the app's verification and
 * before its handler (Hono runs matching handlers in the order they were added). Call it between the
 * two.
 *
 * @example
 * app.use('/api/*', requireAuth({ verifier }))
 * mountPolicyRoutes(app, '/api', { table, policySets, logger })
 * app.all('/api/*', forward)
 */
export function mountPolicyRoutes<E extends Env>(
  app: Hono<E>,
  prefix: string,
  options: PolicyRoutesOptions,
): void {
  const { table, policySets, logger, clientIp, now } = options
  for (const route of table.routes) {
    const guard = authorize({
      policySets,
      ...(table.tenant === undefined ? {} : { tenant: table.tenant }),
      action: route.action ?? `${route.method} ${route.path}`,
      resource: route.resource ?? { type: 'Route', id: route.path },
      ...(logger ? { logger } : {}),
      ...(clientIp ? { clientIp } : {}),
      ...(now ? { now } : {}),
    })
    app.on(route.method, prefix + route.path, guard as unknown as MiddlewareHandler<E>)
  }
  if (table.unmatched === 'deny') {
    const denyUnmatched: MiddlewareHandler<AuthorizeEnv> = async (c, next) => {
      if (c.get('policyDecision') !== undefined) return next()
      const requestId = requestIdOf(c) ?? crypto.randomUUID()
      setErrorCode(c, 'access_denied')
      return c.json(
        {
          error: 'access_denied',
          error_description: 'no policy route matches this request',
          request_id: requestId,
        },
        403,
        { 'Cache-Control': 'no-store', 'X-Request-Id': requestId },
      )
    }
    app.all(`${prefix}/*`, denyUnmatched as unknown as MiddlewareHandler<E>)
  }
}
