/**
 * The policy sets of `npm run bench:policy`: 100 policies for an API of 25 routes (5 resource types,
 * 5 methods each), four per route: a role permit, a service-client scope permit, an MFA permit for
 * DPoP-bound tokens, and a forbid for suspended users. Two shapes with the same decisions:
 *
 * - `scoped`: each policy names its action in its scope (`action == Action::"GET /r0/:id"`), the
 *   way Cedar policies are usually written; the engine is given the 4 policies of the route.
 * - `unscoped`: the same conditions with the action test moved into `when { action == … }`, so every
 *   policy's scope matches every action and the engine evaluates all 100 on every request (the worst
 *   case for 100 policies).
 */

export const RESOURCE_TYPES = ['Document', 'Folder', 'Invoice', 'Project', 'Report']
export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

export interface BenchRoute {
  action: string
  resourceType: string
}

export const ROUTES: BenchRoute[] = RESOURCE_TYPES.flatMap((type, t) =>
  METHODS.map((method) => ({
    action: `${method} /r${t}/:id`,
    resourceType: type,
  })),
)

export const BENCH_SCHEMA = `
entity User, Client = {
  scope: Set<String>, roles: Set<String>, groups: Set<String>, amr: Set<String>,
  tenant: String, clientId: String,
};
${RESOURCE_TYPES.map((t) => `entity ${t};`).join('\n')}
type RequestContext = { time: Long, dpopBound: Bool, ip?: ipaddr, params: { id?: String } };
${ROUTES.map(
  (r) =>
    `action "${r.action}" appliesTo { principal: [User, Client], resource: [${r.resourceType}], context: RequestContext };`,
).join('\n')}
`

/** The role a route's permit asks for: `role-<route index>`. */
export const roleFor = (route: number): string => `role-${route}`

/**
 * 100 policies (4 per route) as id → Cedar text (with its `@id`), `scoped` or `unscoped`. With
 * `perId`, each route's forbid also names one resource (`resource == Document::"locked"`), so its
 * decisions depend on the resource id and the decision cache keys on it (every new id is a new
 * engine call); without, the set decides every id of a route alike (policy-analysis.ts).
 */
export function benchPolicies(
  shape: 'scoped' | 'unscoped',
  options: { perId?: boolean } = {},
): Record<string, string> {
  const policies: Record<string, string> = {}
  ROUTES.forEach((route, i) => {
    const action = `Action::${JSON.stringify(route.action)}`
    const scope = shape === 'scoped' ? `action == ${action}` : 'action'
    const also = shape === 'scoped' ? '' : `action == ${action} && `
    const add = (id: string, text: string) => (policies[id] = `@id("${id}")\n${text}`)
    add(
      `r${i}-role`,
      `permit (principal, ${scope}, resource is ${route.resourceType}) when { ${also}principal.roles.contains("${roleFor(i)}") };`,
    )
    add(
      `r${i}-service`,
      `permit (principal is Client, ${scope}, resource) when { ${also}principal.scope.contains("api:r${i}") };`,
    )
    add(
      `r${i}-mfa`,
      `permit (principal is User, ${scope}, resource) when { ${also}context.dpopBound && principal.amr.contains("mfa") && principal.groups.contains("team-${i % 7}") };`,
    )
    add(
      `r${i}-suspended`,
      options.perId
        ? `forbid (principal, ${scope}, resource) when { ${also}(principal.groups.contains("suspended") || resource == ${route.resourceType}::"locked") };`
        : `forbid (principal, ${scope}, resource) when { ${also}principal.groups.contains("suspended") };`,
    )
  })
  return policies
}

/** Claims of the i-th benchmark user: a few roles and groups, some with MFA. */
export function benchClaims(i: number): Record<string, unknown> {
  return {
    iss: 'https://issuer.bench',
    sub: `user-${i}`,
    aud: 'https://api.bench',
    exp: 2_000_000_000,
    client_id: 'bench-spa',
    scope: 'openid profile api:read',
    roles: [roleFor(i % 25), roleFor((i * 7) % 25), 'member'],
    groups: [`team-${i % 7}`, ...(i % 50 === 0 ? ['suspended'] : [])],
    amr: i % 3 === 0 ? ['pwd', 'mfa'] : ['pwd'],
    ...(i % 5 === 0 ? { cnf: { jkt: 'bench-thumbprint' } } : {}),
  }
}
