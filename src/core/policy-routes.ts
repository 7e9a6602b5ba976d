/**
 * The schema of the gateway's Cedar route table (GATEHOUSE_POLICY_ROUTES), in core so the config
 * (config-variables.ts) parses it at start; what the table does is src/policy/route-table.ts. Also
 * the tenant id rule every policy key and route table shares (docs/policy.md).
 */
import { z } from 'zod'

/** Tenant ids: lowercase DNS-label-like, so they are safe in keys, logs and policy-set ids. */
export const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
export const DEFAULT_TENANT = 'default'

const ENTITY_TYPE = z
  .string()
  .regex(/^[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*$/, 'must be a Cedar entity type name')
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

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
    // Absent: the tenant whose issuer verified the token (the default tenant without tenancy).
    tenant: z.string().regex(TENANT_ID, 'must be a tenant id').optional(),
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

/**
 * GATEHOUSE_POLICY_ROUTES as a config rule (src/core/config-variables.ts): unset gives `undefined`,
 * anything else must be a valid table.
 */
export const policyRoutesRule = z.unknown().transform((v, ctx): PolicyRouteTable | undefined => {
  if (v === undefined || v === null || v === '') return undefined
  const parsed = parsePolicyRoutes(v)
  if (parsed.ok) return parsed.table
  ctx.addIssue({ code: 'custom', message: parsed.message })
  return z.NEVER
})
