/**
 * A published policy set made ready to decide: parsed once per isolate per version, never per
 * request. Each policy's scope is read once from its JSON (policy-analysis.ts); then, per action,
 * principal type and resource type on first use, the policies whose scope can match them are
 * handed to the engine as one pre-parsed set (a "slice"). Cedar evaluates every policy it is given
 * (and the engine copies the pre-parsed set on every call), so a request for one route is not
 * charged for the policies of all the others, nor a user for the service clients' policies; a
 * policy left out could not have applied, so the decision and its determining policies are the
 * ones the whole set gives (tested against the whole set).
 *
 * An uncached decision is made on the call the engine would be given: by the slice's policies
 * compiled to JavaScript (evaluator.ts) when they are all in its subset and it is sure of every value
 * in the call, else by the engine (docs/policy.md, "Which evaluator decides").
 */
import type { DecisionCache } from './decision-cache.ts'
import {
  callEngine,
  engineCanHold,
  isEngineFailure,
  type CedarModule,
  type CedarValueJson,
  type EntityJson,
  type PolicyJson,
} from './engine.ts'
import { compileSlice, evaluateCall, type CompiledSlice, type EngineCall } from './evaluator.ts'
import { actionGroups, analysePolicy, mergeReads, type PolicyScope } from './policy-analysis.ts'
import type { PolicyDocument } from './policy-document.ts'
import type { CedarRequest } from './request.ts'

export interface PolicyDecision {
  decision: 'allow' | 'deny'
  /** Ids of the policies that determined the decision (none: a deny because nothing permits). */
  policies: readonly string[]
  /**
   * Ids of policies that failed to evaluate (Cedar skips them), or `request` when the engine refused
   * the request itself, `engine` when the engine failed.
   */
  errors: readonly string[]
  cached: boolean
}

export interface CompiledPolicySet {
  readonly tenant: string
  readonly version: number
  readonly policyCount: number
  /** Decides one request; never throws. */
  decide(request: CedarRequest): PolicyDecision
  /** Uncached decisions so far, by who decided them (evaluator.ts or the engine). */
  readonly decidedBy: { readonly evaluator: number; readonly engine: number }
}

export type CompileResult = { ok: true; set: CompiledPolicySet } | { ok: false; reason: string }

export interface CompileOptions {
  /** Engine-side name prefix of this set's slices; a later set with the same slot replaces them. */
  slot: string
  cache: DecisionCache
  /**
   * `false`: every uncached decision asks the engine, even where the evaluator could decide (the
   * bench's engine-only row measures the engine this way). Default `true`.
   */
  evaluator?: boolean
}

/** Slices per set; past it, further actions share one slice of the whole set. */
const MAX_SLICES = 1000
const WHOLE_SET = '\u0000*'

interface Slice {
  /** Engine-side id, or undefined when no policy applies to the action (deny without a call). */
  id: string | undefined
  /** The action's groups (for the action entity's parents). */
  parents: EntityJson['parents']
  /** What the slice's policies can read: only these go to the engine and into the cache key. */
  contextAttributes: PolicyScope['contextAttributes']
  /** Attribute name → `whole`, or the only set members the slice's policies test for. */
  entityAttributes: 'all' | ReadonlyMap<string, 'whole' | ReadonlySet<string>>
  /** Whether a policy of the slice can tell resource ids apart; if not, the key leaves the id out. */
  readsResource: boolean
  /** Whether a policy of the slice can tell principals apart beyond type and attributes; likewise. */
  readsPrincipal: boolean
  /** The slice's policies compiled to closures, when all are in evaluator.ts's subset. */
  evaluator: CompiledSlice | undefined
  /** The action's entity the call sends (frozen, so evaluator.ts reads it once), if any. */
  actionEntity: EntityJson | undefined
  /**
   * The principal entity as sent to the engine and its part of the key, per built principal entity
   * (request.ts memoises one per verified token, so a token's later requests reuse them).
   */
  principals: WeakMap<EntityJson, SentPrincipal>
}

interface SentPrincipal {
  entity: EntityJson
  /** The key's principal part: type, id when the slice reads it, the attributes sent. */
  key: string
}

/**
 * @example
 * const compiled = compilePolicySet(engine, document, { slot: 'default#0', cache })
 * if (compiled.ok) compiled.set.decide(request).decision // 'allow'
 */
export function compilePolicySet(
  engine: CedarModule,
  document: PolicyDocument,
  options: CompileOptions,
): CompileResult {
  // No engine call here: the scopes are read from the JSON the engine will be given.
  const scopes = new Map<string, PolicyScope>()
  for (const [id, policy] of Object.entries(document.policies)) {
    scopes.set(id, analysePolicy(policy))
  }
  const groupsOf = actionGroups(document.schema)
  // The whole set is pre-parsed once, now: a version the engine refuses is refused here, so the set
  // in force stays (policy-sets.ts). It also serves actions past MAX_SLICES.
  const whole = callEngine(() =>
    engine.preparsePolicySet(`${options.slot}|${WHOLE_SET}`, { staticPolicies: document.policies }),
  )
  if (isEngineFailure(whole)) return { ok: false, reason: `the engine failed (${whole.errorName})` }
  if (whole.type === 'failure') {
    return { ok: false, reason: `the set does not parse: ${whole.errors[0]?.message ?? 'unknown'}` }
  }
  const slices = new Map<string, Slice | 'broken'>()
  const tag = `${document.tenant}@${document.version}`
  const { cache } = options

  const buildSlice = (
    key: string,
    groups: string[],
    principalType?: string,
    resourceType?: string,
  ): Slice | 'broken' => {
    const member = new Set(groups)
    const chosen: Record<string, PolicyJson> = {}
    const attributes = new Set<string>()
    const entityAttributes = new Map<string, 'whole' | Set<string>>()
    let allContext = false
    let allEntity = false
    let readsResource = false
    let readsPrincipal = false
    for (const [id, scope] of scopes) {
      if (key !== WHOLE_SET) {
        if (scope.actions !== 'all' && !scope.actions.some((a) => member.has(a))) continue
        // A scope that requires another entity type is false before any condition runs.
        if (scope.principalType !== undefined && scope.principalType !== principalType) continue
        if (scope.resourceType !== undefined && scope.resourceType !== resourceType) continue
      }
      chosen[id] = document.policies[id] as PolicyJson
      if (scope.contextAttributes === 'all') allContext = true
      else for (const a of scope.contextAttributes) attributes.add(a)
      if (scope.entityAttributes === 'all') allEntity = true
      else mergeReads(entityAttributes, scope.entityAttributes)
      if (scope.readsResource) readsResource = true
      if (scope.readsPrincipal) readsPrincipal = true
    }
    const id = Object.keys(chosen).length === 0 ? undefined : `${options.slot}|${key}`
    if (id !== undefined && key !== WHOLE_SET) {
      const answer = callEngine(() => engine.preparsePolicySet(id, { staticPolicies: chosen }))
      if (isEngineFailure(answer) || answer.type !== 'success') return 'broken'
    }
    const parents = groups.slice(1).map((g) => ({ type: 'Action', id: g }))
    return {
      id,
      parents,
      evaluator: id === undefined || options.evaluator === false ? undefined : compileSlice(chosen),
      actionEntity: actionEntityOf(groups[0], parents),
      contextAttributes: allContext ? 'all' : [...attributes].sort(),
      entityAttributes: allEntity ? 'all' : entityAttributes,
      readsResource,
      readsPrincipal,
      principals: new WeakMap(),
    }
  }

  const sliceFor = (request: CedarRequest): Slice | 'broken' => {
    const { action } = request
    const sliceKey = `${action}\u0000${request.principal.type}\u0000${request.resource.type}`
    let slice = slices.get(sliceKey)
    if (slice !== undefined) return slice
    if (slices.size >= MAX_SLICES) {
      // Unbounded action names (a custom `action` function) end up sharing the whole set.
      slice = slices.get(WHOLE_SET) ?? buildSlice(WHOLE_SET, [])
      slices.set(WHOLE_SET, slice)
      if (slice === 'broken') return slice
      const parents = parentsOf(action)
      return { ...slice, parents, actionEntity: actionEntityOf(action, parents) }
    }
    slice = buildSlice(sliceKey, groupsOf(action), request.principal.type, request.resource.type)
    slices.set(sliceKey, slice)
    return slice
  }
  const parentsOf = (action: string): EntityJson['parents'] =>
    groupsOf(action)
      .slice(1)
      .map((g) => ({ type: 'Action', id: g }))

  const decide = (request: CedarRequest): PolicyDecision => {
    const slice = sliceFor(request)
    if (slice === 'broken')
      return { decision: 'deny', policies: [], errors: ['engine'], cached: false }
    if (slice.id === undefined) return { decision: 'deny', policies: [], errors: [], cached: false }
    // Only what the slice's policies can read goes to the engine (parsing entities and context is
    // most of a call's cost) and into the key (so claims no policy reads do not split the cache).
    // Likewise the ids: when no policy of the slice can tell resource ids apart, a principal's
    // decision on one id is its decision on every id of the type; when none can tell principals
    // apart beyond their attributes, users with the same roles share one decision.
    const context =
      slice.contextAttributes === 'all'
        ? request.context
        : pick(request.context, slice.contextAttributes)
    const principal = sentPrincipal(slice, request)
    const key =
      JSON.stringify([
        tag,
        request.action,
        request.resource.type,
        slice.readsResource ? request.resource.id : null,
        context,
      ]) + principal.key
    const hit = cache.get(key)
    if (hit) return { ...hit, cached: true }

    const call: EngineCall = {
      principal: request.principal,
      action: { type: 'Action', id: request.action },
      resource: request.resource,
      context,
      entities:
        slice.actionEntity === undefined
          ? [principal.entity]
          : [principal.entity, slice.actionEntity],
    }
    // The same call, decided in JavaScript when the slice's policies compiled and the evaluator is
    // sure of every value in it (evaluator.ts); else by the engine.
    const evaluated = slice.evaluator && evaluateCall(slice.evaluator, call)
    if (evaluated) {
      decidedBy.evaluator++
      cache.set(key, evaluated)
      return { ...evaluated, cached: false }
    }
    decidedBy.engine++
    if (!engineCanHold(call)) {
      return { decision: 'deny', policies: [], errors: ['engine'], cached: false }
    }
    const sliceId = slice.id
    const answer = callEngine(() =>
      engine.statefulIsAuthorized({ ...call, preparsedPolicySetId: sliceId }),
    )
    // A thrown engine call is not cached: it says nothing about the request.
    if (isEngineFailure(answer)) {
      return { decision: 'deny', policies: [], errors: ['engine'], cached: false }
    }
    const result =
      answer.type === 'success'
        ? {
            decision: answer.response.decision,
            policies: answer.response.diagnostics.reason,
            errors: policyIdsOf(answer.response.diagnostics.errors),
          }
        : { decision: 'deny' as const, policies: [], errors: ['request'] }
    cache.set(key, result)
    return { ...result, cached: false }
  }

  const decidedBy = { evaluator: 0, engine: 0 }
  return {
    ok: true,
    set: {
      tenant: document.tenant,
      version: document.version,
      policyCount: scopes.size,
      decide,
      decidedBy,
    },
  }
}

/** The action's entity the call sends: only when the action belongs to groups (frozen). */
function actionEntityOf(
  action: string | undefined,
  parents: EntityJson['parents'],
): EntityJson | undefined {
  if (action === undefined || parents.length === 0) return undefined
  const entity: EntityJson = { uid: { type: 'Action', id: action }, attrs: {}, parents }
  Object.freeze(entity.attrs)
  Object.freeze(parents)
  for (const parent of parents) Object.freeze(parent)
  return Object.freeze(entity)
}

/** The principal entity the slice's policies can read, and its part of the key; memoised per entity. */
function sentPrincipal(slice: Slice, request: CedarRequest): SentPrincipal {
  const built = request.principalEntity
  // Only a frozen entity (request.ts memoises those per verified token) can be a memo key: any
  // other may change after this call.
  const known = Object.isFrozen(built) ? slice.principals.get(built) : undefined
  if (known !== undefined) return known
  const entity: EntityJson = {
    uid: request.principal,
    attrs:
      slice.entityAttributes === 'all'
        ? built.attrs
        : pickMembers(built.attrs, slice.entityAttributes),
    parents: [],
  }
  const sent: SentPrincipal = {
    entity,
    key: JSON.stringify([
      request.principal.type,
      slice.readsPrincipal ? request.principal.id : null,
      entity.attrs,
    ]),
  }
  if (Object.isFrozen(built)) {
    // Reused by this principal's later requests: frozen, so evaluator.ts reads it once too.
    deepFreeze(entity)
    slice.principals.set(built, sent)
  }
  return sent
}

function pick(
  values: Record<string, CedarValueJson>,
  names: Iterable<string>,
): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {}
  for (const name of names) {
    const value = values[name]
    if (value !== undefined) out[name] = value
  }
  return out
}

/** The attributes read, each set cut to the members tested for when only members are tested. */
function pickMembers(
  attrs: Record<string, CedarValueJson>,
  reads: ReadonlyMap<string, 'whole' | ReadonlySet<string>>,
): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {}
  for (const [name, read] of reads) {
    const value = attrs[name]
    if (value === undefined) continue
    out[name] =
      read === 'whole' || !Array.isArray(value)
        ? value
        : value.filter((v) => typeof v === 'string' && read.has(v))
  }
  return out
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const member of Object.values(value)) deepFreeze(member)
}

/**
 * The ids of the policies that errored, in the engine's order. A plain loop, not `Array.prototype.map`:
 * on Node 22 (V8 12.4), `decide` inlined `map` with a builtin continuation, and a lazy deoptimisation
 * of `decide` returning into it (after the engine call changed a map it depended on) crashed the whole
 * process (`V8_Fatal` in `Deoptimizer::DoComputeBuiltinContinuation`; `npm run bench:policy`).
 *
 * @example policyIdsOf([{ policyId: 'p1', error: { message: '…' } }]) // ['p1']
 */
function policyIdsOf(errors: readonly { policyId: string }[]): string[] {
  const ids: string[] = []
  for (let i = 0; i < errors.length; i++) ids.push((errors[i] as { policyId: string }).policyId)
  return ids
}
