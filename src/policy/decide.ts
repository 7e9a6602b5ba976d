/**
 * One policy decision for one request: the tenant's set in force, the Cedar request built from the
 * verified token and the route, the decision (from the L1 decision cache when it holds it). Every
 * path that is not a Cedar `allow` is a deny: no set, L2 away with no set, claims past the bounds.
 */
import type { PolicySets } from './policy-sets.ts'
import { buildCedarRequest, type RequestFacts } from './request.ts'

export interface Decision {
  decision: 'allow' | 'deny'
  /**
   * `policy`: Cedar decided. Otherwise why it was denied without asking Cedar: `no_policy_set`,
   * `policy_store_unavailable` (L2 away, no set loaded yet), `principal_unknown`,
   * `claims_out_of_bounds`, `params_out_of_bounds`, `tenant_mismatch` (the token was verified by
   * another tenant than the one whose policies would decide).
   */
  reason: string
  /** The determining policies' ids. */
  policies: readonly string[]
  /** Ids of policies that failed to evaluate; `request` or `engine` when the whole call failed. */
  errors: readonly string[]
  /** The version of the set that decided, when there was one. */
  version: number | null
  cached: boolean
  /** The principal as Cedar writes it (`User::"alice"`), when the token named one. */
  principal: string | null
}

/**
 * A deny decided without asking Cedar, for `reason`.
 *
 * @example deniedWithout('tenant_mismatch', null)
 */
export const deniedWithout = (
  reason: string,
  principal: string | null,
  version: number | null = null,
): Decision =>
  ({
    decision: 'deny',
    reason,
    policies: [],
    errors: [],
    version,
    cached: false,
    principal,
  }) satisfies Decision

/**
 * @example
 * const decision = await decide(policySets, {
 *   claims, tenant: 'default', action: 'GET /documents/:id',
 *   resource: { type: 'Document', id: '42' }, nowMs: Date.now(),
 * })
 * decision.decision // 'allow'
 */
export async function decide(
  policySets: PolicySets,
  facts: RequestFacts,
  waitUntil?: (promise: Promise<unknown>) => void,
): Promise<Decision> {
  const built = buildCedarRequest(facts)
  const principal = built.ok
    ? `${built.request.principal.type}::${JSON.stringify(built.request.principal.id)}`
    : null
  const state = await policySets.current(facts.tenant, waitUntil)
  if (state.status === 'none') return deniedWithout('no_policy_set', principal)
  if (state.status === 'unavailable') return deniedWithout('policy_store_unavailable', principal)
  if (!built.ok) return deniedWithout(built.reason, principal, state.set.version)
  // Synchronous from here: the set cannot be swapped between this line and the decision.
  const result = state.set.decide(built.request)
  return { ...result, reason: 'policy', version: state.set.version, principal }
}
