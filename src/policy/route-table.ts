/**
 * The gateway's policy route table (GATEHOUSE_POLICY_ROUTES): which upstream routes are decided by
 * Cedar, as which action, on which resource. Paths are Hono route templates relative to the gateway
 * prefix (`/api`), so `GET /api/documents/42` matches `{ "method": "GET", "path": "/documents/:id" }`
 * and is decided as `Action::"GET /documents/:id"` on `Document::"42"` when its resource is
 * `{ "type": "Document", "param": "id" }`.
 *
 *   { "tenant": "default", "unmatched": "allow",
 *     "routes": [{ "method": "GET", "path": "/documents/:id",
 *                  "resource": { "type": "Document", "param": "id" } }] }
 *
 * `unmatched`: what happens to a gateway request no route matches: `allow` (default; verified and
 * forwarded, no policy, the engine never loaded) or `deny` (403 without asking Cedar).
 */
import type { Env, Hono, MiddlewareHandler } from 'hono'
import { z } from 'zod'
import type { Clock } from '../core/types.ts'
import type { Logger } from '../http/log.ts'
import { authorize, type AuthorizeEnv } from './authorize.ts'
import { DEFAULT_TENANT, TENANT_ID } from './policy-document.ts'
import type { PolicySets } from './policy-sets.ts'

const ENTITY_TYPE = z
  .string()
  .regex(/^[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*$/, 'must be a Cedar entity type name')
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

const routeSchema = z
  .object({
    method: z.enum(METHODS),
    path: z.string().regex(/^\/[^\s?#]{0,500}$/, 'must be a route template starting with /'),
    action: z.string().min(1).max(500).optional(),
    resource: z
      .union([
        z.strictObject({ type: ENTITY_TYPE, param: z.string().regex(/^\w{1,64}$/) }),
        z.strictObject({ type: ENTITY_TYPE, id: z.string().min(1).max(1024) }),
      ])
      .optional(),
  })
  .strict()
  .refine(
    (r) =>
      r.resource === undefined ||
      !('param' in r.resource) ||
      new RegExp(`/:${r.resource.param}(?:[{/?]|$)`).test(r.path),
    { message: 'resource.param must name a path parameter of path', path: ['resource'] },
  )

const tableSchema = z
  .object({
    tenant: z.string().regex(TENANT_ID, 'must be a tenant id').default(DEFAULT_TENANT),
    unmatched: z.enum(['allow', 'deny']).default('allow'),
    routes: z.array(routeSchema).min(1).max(1000),
  })
  .strict()

export type PolicyRouteTable = z.infer<typeof tableSchema>
export type PolicyRoute = PolicyRouteTable['routes'][number]

/**
 * Parses the route table from its JSON text (an env var) or an object (a wrangler `[vars]` table).
 * The error names the field and the rule, never the value.
 *
 * @example
 * const parsed = parsePolicyRoutes(env.GATEHOUSE_POLICY_ROUTES)
 * if (!parsed.ok) throw new Error(parsed.message)
 */
export function parsePolicyRoutes(
  value: unknown,
): { ok: true; table: PolicyRouteTable } | { ok: false; message: string } {
  let json = value
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value)
    } catch {
      return { ok: false, message: 'is not valid JSON' }
    }
  }
  const parsed = tableSchema.safeParse(json)
  if (parsed.success) return { ok: true, table: parsed.data }
  const issue = parsed.error.issues[0]
  return { ok: false, message: `${issue?.path.join('.') || 'value'}: ${issue?.message}` }
}

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
      tenant: table.tenant,
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
      const requestId = c.get('requestId') ?? crypto.randomUUID()
      c.set('errorCode', 'access_denied')
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
