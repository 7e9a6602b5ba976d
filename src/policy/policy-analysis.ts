/**
 * What the compiler needs to know about each policy, read from Cedar's JSON form of it: which actions
 * its scope can match (to slice the set per action), which `context` attributes and which entity
 * attributes it reads (so a request carries only those to the engine and into the decision cache's
 * key). Every answer may be wider than the truth (`'all'`), never narrower: a policy left out of a
 * slice is one whose scope cannot match that action, so Cedar would not have applied it, and an
 * attribute left out of a request is one no policy of the slice can read. An attribute that is only
 * ever tested for members given as string literals (`principal.roles.contains("admin")`,
 * `containsAny([…])`, `containsAll([…])`) needs only those members: of a token's 30 groups, the
 * one a policy names (each set member costs the engine about as much as a whole extra attribute).
 *
 * Whether a policy can tell one resource id from another (`readsResource`) decides whether the
 * decision cache keys on the id: a role-based set (`resource is Document` at most) decides every
 * document alike, so one engine call serves a principal's requests on every id of the route.
 * Likewise the principal (`readsPrincipal`): a policy that reads only the principal's attributes
 * (`principal.roles.contains("editor")`) decides two users with the same roles alike. And the
 * entity type a scope requires (`principal is Client`, `resource == Folder::"x"`) lets a slice
 * leave the policy out for requests of another type, which it can never match.
 *
 * The JSON comes from L2, so it is read defensively: a shape this code does not know makes every
 * answer `'all'` (the engine then decides whether the policy is valid at all).
 */
import type { PolicyJson, SchemaJson } from './engine.ts'

export interface PolicyScope {
  /** Action ids (type `Action`) the scope names, as themselves or as groups; `'all'` when unconstrained. */
  actions: 'all' | string[]
  /** Context attributes the policy reads; `'all'` when it uses `context` other than `context.x`. */
  contextAttributes: 'all' | string[]
  /**
   * Every other attribute name the policy reads (`x.name`, `x has name`), whatever expression leads
   * to the entity: `whole` when its value matters, else the string literals it is only tested for
   * (a set attribute may then be cut to those members).
   */
  entityAttributes: 'all' | AttributeReads
  /**
   * Whether the decision can depend on the resource's id: the scope names a resource (`==`, `in`,
   * `is … in`) or the conditions use `resource` at all. False: only the resource's type matters
   * (`resource` or `resource is T` in the scope), which the action's slice and the key carry.
   */
  readsResource: boolean
  /**
   * Whether the decision can depend on the principal's id rather than only on its type and
   * attributes: the scope names a principal (`==`, `in`, `is … in`), or the conditions use
   * `principal` other than to read its attributes (`principal == …`, `principal in …`,
   * `principal is …`, `[principal]`), or read an attribute or tag of any entity but the principal
   * (`resource.owner`, `User::"alice".roles`: that entity may be the principal, whose entity is
   * the only one the request carries). False: two principals of one type with the same attributes
   * get the same decision and determining policies (the principal entity has no parents, so no
   * `in` can tell them apart either; request.ts builds it so).
   */
  readsPrincipal: boolean
  /** The principal type the scope requires (`is T`, `== T::"…"`), or undefined for any. */
  principalType: string | undefined
  /** The resource type the scope requires (`is T`, `== T::"…"`), or undefined for any. */
  resourceType: string | undefined
}

/** Attribute name → `whole`, or the only members it is tested for. */
export type AttributeReads = Record<string, 'whole' | string[]>

/**
 * Merges `from` into `into`: `whole` wins, member lists unite.
 *
 * @example mergeReads(reads, { roles: ['admin'] })
 */
export function mergeReads(into: Map<string, 'whole' | Set<string>>, from: AttributeReads): void {
  for (const [name, read] of Object.entries(from)) {
    const known = into.get(name)
    if (known === 'whole') continue
    if (read === 'whole') into.set(name, 'whole')
    else into.set(name, new Set([...(known ?? []), ...read]))
  }
}

const WIDEST: PolicyScope = {
  actions: 'all',
  contextAttributes: 'all',
  entityAttributes: 'all',
  readsResource: true,
  readsPrincipal: true,
  principalType: undefined,
  resourceType: undefined,
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * @example
 * analysePolicy(prepared.policies['documents-read'])
 * // { actions: ['GET /documents/:id'], contextAttributes: ['ip'], entityAttributes: ['scope'] }
 */
export function analysePolicy(policy: PolicyJson): PolicyScope {
  try {
    const reads = attributeReads(policy.conditions as unknown as Json)
    return {
      actions: scopeActions(policy.action),
      ...reads,
      readsResource: reads.readsResource || !typeOnly(policy.resource),
      readsPrincipal:
        !typeOnly(policy.principal) || readsPrincipalId(policy.conditions as unknown as Json),
      principalType: requiredType(policy.principal),
      resourceType: requiredType(policy.resource),
    }
  } catch {
    return WIDEST
  }
}

function scopeActions(constraint: PolicyJson['action']): PolicyScope['actions'] {
  if (constraint.op === 'All') return 'all'
  if (constraint.op !== '==' && constraint.op !== 'in') return 'all'
  const refs =
    constraint.op === '=='
      ? 'entity' in constraint
        ? [constraint.entity]
        : []
      : 'entities' in constraint
        ? constraint.entities
        : [constraint.entity]
  const ids: string[] = []
  if (!Array.isArray(refs)) return 'all'
  for (const ref of refs) {
    const uid = '__entity' in ref ? ref.__entity : ref
    // Another namespace's Action never equals our `Action::"…"`, but stay wide rather than clever.
    if (uid?.type !== 'Action' || typeof uid.id !== 'string') return 'all'
    ids.push(uid.id)
  }
  return ids.length === 0 ? 'all' : ids
}

/** A scope that constrains at most the type (`resource`, `resource is T`). */
function typeOnly(constraint: PolicyJson['resource'] | PolicyJson['principal']): boolean {
  if (constraint.op === 'All') return true
  return (
    constraint.op === 'is' && !('in' in constraint) && typeof constraint.entity_type === 'string'
  )
}

/**
 * The entity type a principal or resource scope requires: `is T` (with or without `in`) or
 * `== T::"id"`. Undefined for `All`, `in` alone (a descendant may be of any type) and slots.
 */
function requiredType(
  constraint: PolicyJson['resource'] | PolicyJson['principal'],
): string | undefined {
  if (constraint.op === 'is') {
    return typeof constraint.entity_type === 'string' ? constraint.entity_type : undefined
  }
  if (constraint.op === '==' && 'entity' in constraint) {
    const ref = constraint.entity
    const uid = '__entity' in ref ? ref.__entity : ref
    return typeof uid?.type === 'string' ? uid.type : undefined
  }
  return undefined
}

/** Reads of an entity's data: `x.attr`, `x has attr`, `x.getTag(k)`, `x.hasTag(k)`. */
const ENTITY_ACCESS = new Set(['.', 'has', 'getTag', 'hasTag'])

const isVar = (node: Json | undefined, name: string): boolean =>
  typeof node === 'object' && node !== null && !Array.isArray(node) && node.Var === name

/**
 * Whether the conditions can tell principals with the same type and attributes apart (see
 * `PolicyScope.readsPrincipal`): `principal` anywhere but as the entity an attribute or tag is
 * read from, or an attribute or tag read from anything but the principal or the context (a record
 * we build, with no entities in it).
 */
function readsPrincipalId(conditions: Json): boolean {
  let reads = false
  const visit = (node: Json | undefined): void => {
    if (reads || typeof node !== 'object' || node === null) return
    if (Array.isArray(node)) {
      for (const item of node) visit(item)
      return
    }
    if (node.Var === 'principal' || 'Slot' in node) {
      reads = true
      return
    }
    for (const [key, value] of Object.entries(node)) {
      if (ENTITY_ACCESS.has(key) && typeof value === 'object' && value !== null) {
        const { left, ...rest } = value as { left?: Json; [other: string]: Json | undefined }
        // Down a record path (`context.params.id`, `principal.a.b`) to the entity it starts from.
        let root = left
        while (typeof root === 'object' && root !== null && !Array.isArray(root) && '.' in root) {
          root = (root['.'] as { left?: Json } | null)?.left
        }
        if (!isVar(root, 'principal') && !isVar(root, 'context')) {
          reads = true
          return
        }
        visit(Object.values(rest) as Json[])
        continue
      }
      visit(value)
    }
  }
  visit(conditions)
  return reads
}

const isContextVar = (node: Json | undefined): boolean =>
  typeof node === 'object' && node !== null && !Array.isArray(node) && node.Var === 'context'

const MEMBERSHIP = new Set(['contains', 'containsAny', 'containsAll'])

/** The string literals of a membership test's argument, or undefined when it is not all literals. */
function literals(test: string, right: Json | undefined): string[] | undefined {
  if (typeof right !== 'object' || right === null || Array.isArray(right)) return undefined
  const strings = (items: Json[]) =>
    items.every((i) => typeof i === 'string') ? (items as string[]) : undefined
  if (test === 'contains') return typeof right.Value === 'string' ? [right.Value] : undefined
  if (Array.isArray(right.Value)) return strings(right.Value)
  if (Array.isArray(right.Set)) {
    const values = right.Set.map((e) =>
      typeof e === 'object' && e !== null && !Array.isArray(e) ? e.Value : undefined,
    )
    return values.every((v) => v !== undefined) ? strings(values as Json[]) : undefined
  }
  return undefined
}

/**
 * Attributes read as `context.x` or `context has x` (any other use of `context` reads it all), and
 * the names read on anything else, with how (see `PolicyScope.entityAttributes`).
 */
function attributeReads(
  conditions: Json,
): Pick<PolicyScope, 'contextAttributes' | 'entityAttributes' | 'readsResource'> {
  const context = new Set<string>()
  const entity = new Map<string, 'whole' | Set<string>>()
  let allContext = false
  let readsResource = false
  const read = (name: string, members?: string[]) =>
    mergeReads(entity, { [name]: members ?? 'whole' })
  const visit = (node: Json): void => {
    if (typeof node !== 'object' || node === null) return
    if (Array.isArray(node)) {
      for (const item of node) visit(item)
      return
    }
    if (isContextVar(node)) {
      allContext = true
      return
    }
    if (node.Var === 'resource') readsResource = true
    for (const [key, value] of Object.entries(node)) {
      const operands = (value ?? {}) as { left?: Json; right?: Json; attr?: Json }
      if (MEMBERSHIP.has(key)) {
        // `<entity>.name.contains("literal")`: only the literal's membership matters.
        const access = (operands.left as { '.'?: { left?: Json; attr?: Json } } | undefined)?.['.']
        const members = literals(key, operands.right)
        if (
          access &&
          typeof access.attr === 'string' &&
          !isContextVar(access.left) &&
          members !== undefined
        ) {
          read(access.attr, members)
          visit(access.left ?? null)
          continue
        }
      }
      if (key === '.' || key === 'has') {
        const attr = Array.isArray(operands.attr) ? operands.attr[0] : operands.attr
        if (typeof attr === 'string') {
          if (isContextVar(operands.left)) {
            context.add(attr)
            continue
          }
          // `x has name` asks for presence only: no member is needed (a path `x has a.b` needs a).
          const presence =
            key === 'has' && !(Array.isArray(operands.attr) && operands.attr.length > 1)
          read(attr, presence ? [] : undefined)
        }
      }
      visit(value)
    }
  }
  visit(conditions)
  return {
    contextAttributes: allContext ? 'all' : [...context].sort(),
    entityAttributes: Object.fromEntries(
      [...entity].map(([name, r]) => [name, r === 'whole' ? 'whole' : [...r].sort()]),
    ),
    readsResource,
  }
}

/**
 * The action groups each action belongs to, transitively, from the schema's `memberOf` (empty
 * namespace, where the request's `Action::"…"` lives). Returns a lookup that includes the action.
 *
 * @example
 * const selfAndGroups = actionGroups(schemaJson)
 * selfAndGroups('DELETE /documents/:id') // ['DELETE /documents/:id', 'write']
 */
export function actionGroups(schema: SchemaJson<string> | undefined): (action: string) => string[] {
  const parents = new Map<string, string[]>()
  const actions = schema?.['']?.actions
  for (const [id, action] of Object.entries(typeof actions === 'object' ? actions : {})) {
    const memberOf: unknown = action?.memberOf
    parents.set(
      id,
      (Array.isArray(memberOf) ? memberOf : [])
        .filter((m) => typeof m?.id === 'string' && (m.type === undefined || m.type === 'Action'))
        .map((m) => m.id as string),
    )
  }
  const memo = new Map<string, string[]>()
  return (action) => {
    const known = memo.get(action)
    if (known) return known
    const seen = new Set<string>([action])
    const queue = [action]
    while (queue.length > 0) {
      for (const parent of parents.get(queue.pop() as string) ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent)
          queue.push(parent)
        }
      }
    }
    const result = [...seen]
    if (memo.size < 10_000) memo.set(action, result)
    return result
  }
}
