/**
 * Cedar decisions in JavaScript, for slices whose every policy stays inside a subset of Cedar whose
 * semantics are small and settled (docs/policy.md, "Which evaluator decides"). An engine call costs
 * ~15 µs before it carries anything (the WebAssembly boundary, the engine copying its pre-parsed
 * set); the same policies compiled to closures decide in about a microsecond. The engine stays the
 * only parser and validator: this file reads the JSON form of policies the engine has already
 * pre-parsed, and any construct outside the subset leaves the slice to the engine.
 *
 * Semantics follow Cedar's evaluator and authorizer (cedar-policy-core `evaluator.rs`,
 * `authorizer.rs`, `ast/policy.rs`, `expr_builder.rs`; the Cedar language reference):
 *
 * - A policy applies when its scope and every `when` hold and no `unless` does, evaluated left to
 *   right with `&&`'s short-circuit (`principal == E`, `principal in E`, `principal is T [in E]`,
 *   `action == A`, `action in [A…]`). A forbid that applies denies and is the reason; otherwise a
 *   permit that applies allows and the permits that apply are the reason; otherwise deny with no
 *   reason. A policy whose evaluation errors does not apply and is reported as an error.
 * - Errors: a non-Bool operand of `&&`, `||`, `!`, `if` or a condition; a non-Long operand of
 *   `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, negation; `contains` on a non-Set, `containsAll`/`Any`
 *   and `isEmpty` with a non-Set; `like` on a non-String; `in` with a non-entity on the left or a
 *   non-entity (or a Set holding one) on the right; `is` on a non-entity; `.` on a missing record
 *   attribute, a missing entity attribute, an entity not in the request, or a value that is no
 *   record or entity; `has` on a value that is no record or entity (`has` on an entity not in the
 *   request is false). `==` never errors: values of different types are unequal; Sets compare as
 *   sets, records by their attributes, entities by type and id.
 * - `e in E` holds when e is E or E is among e's ancestors in the request's entities (the
 *   principal has none; the action has its groups); every operand of both sides is evaluated first.
 *   `e has a.b` is `e has a && e.a has b`; `x is T in E` is `x is T && x in E`.
 * - `like`: `*` matches any sequence of characters (Unicode scalar values), other characters
 *   themselves.
 *
 * Where this evaluator cannot be certain the engine would see the same thing it is `UNSURE`, and the
 * engine decides that request: a Long outside ±(2^53 − 1) (JavaScript numbers are exact only there,
 * so arithmetic whose result leaves that range is handed over too; inside it no i64 overflow is
 * possible), a string that is not well-formed UTF-16, an extension value (`ip`, `decimal`, …) in the
 * input, any value that is not JSON the engine reads the same way, or any exception of this code.
 */
import { wellFormed, type CedarValueJson, type EntityJson, type PolicyJson } from './engine.ts'

type EntityUidJson = EntityJson['uid']

/** An entity reference: `Type::"id"`. */
export class EntityUid {
  readonly type: string
  readonly id: string
  constructor(type: string, id: string) {
    this.type = type
    this.id = id
  }
}

class CedarSet {
  readonly items: readonly Value[]
  constructor(items: readonly Value[]) {
    this.items = items
  }
}

class CedarRecord {
  readonly attrs: ReadonlyMap<string, Value>
  constructor(attrs: ReadonlyMap<string, Value>) {
    this.attrs = attrs
  }
}

type Value = boolean | number | string | EntityUid | CedarSet | CedarRecord

/** An entity the request carries: its attributes and (transitive) ancestors by `entityKey`. */
export interface StoredEntity {
  attrs: ReadonlyMap<string, Value>
  ancestors: ReadonlySet<string>
}

/** What one request gives the policies: an engine call, read as the engine reads it. */
interface EvaluationInput {
  principal: EntityUid
  action: EntityUid
  resource: EntityUid
  context: CedarRecord
  /** The call's entities by `entityKey`. */
  entities: ReadonlyMap<string, StoredEntity>
}

/** The engine call a decision would make (`statefulIsAuthorized`'s input, less the set id). */
export interface EngineCall {
  principal: EntityUidJson
  action: EntityUidJson
  resource: EntityUidJson
  context: Record<string, CedarValueJson>
  entities: EntityJson[]
}

export interface EvaluatedDecision {
  decision: 'allow' | 'deny'
  policies: string[]
  errors: string[]
}

/** A slice's policies compiled to closures. */
export interface CompiledSlice {
  /** The decision the engine would give on this input, or undefined when the engine must decide. */
  decide(input: EvaluationInput): EvaluatedDecision | undefined
}

/**
 * The decision the engine would give on `call` with the slice's policies, or undefined when the
 * engine must decide (the call holds something this evaluator is not sure the engine reads the same
 * way, or refuses; or a policy meets a Long it cannot compute exactly).
 *
 * @example
 * evaluateCall(slice, { principal, action, resource, context, entities: [principalEntity] })
 * // { decision: 'allow', policies: ['read'], errors: [] }
 */
export function evaluateCall(
  slice: CompiledSlice,
  call: EngineCall,
): EvaluatedDecision | undefined {
  try {
    const entities = new Map<string, StoredEntity>()
    for (const json of call.entities) {
      const uid = inputUid(json.uid)
      const key = entityKey(uid)
      if (entities.has(key)) return undefined // the engine refuses duplicates
      entities.set(key, storedEntity(json))
    }
    return slice.decide({
      principal: inputUid(call.principal),
      action: inputUid(call.action),
      resource: inputUid(call.resource),
      context: new CedarRecord(inputRecord(call.context)),
      entities: closed(entities),
    })
  } catch {
    return undefined // UNSURE, or a fault of this code: the engine decides
  }
}

/** Thrown inside a policy: it errors (Cedar skips it and reports it). */
const EVAL_ERROR = Object.freeze({ error: true })
/** Thrown when this evaluator is not certain to agree with the engine: the engine decides. */
export const UNSURE = Object.freeze({ unsure: true })

type Compiled = (input: EvaluationInput) => Value

/** A construct outside the subset: the slice keeps the engine. */
class OutsideSubset extends Error {}

const MAX_DEPTH = 64
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*$/
/** Identifiers Cedar reserves, and more: a type named like them is left to the engine. */
const RESERVED = new Set([
  'true',
  'false',
  'if',
  'then',
  'else',
  'in',
  'is',
  'like',
  'has',
  'permit',
  'forbid',
  'when',
  'unless',
  'principal',
  'action',
  'resource',
  'context',
])

/**
 * Whether `type` is an entity type name this evaluator compares as the engine does (a plain
 * `Ident(::Ident)*`, no reserved word, nothing starting with `__`).
 *
 * @example plainTypeName('Document') // true
 */
export function plainTypeName(type: string): boolean {
  return NAME.test(type) && type.split('::').every((p) => !RESERVED.has(p) && !p.startsWith('__'))
}

/** The key of an entity in `StoredEntity.ancestors`. */
export const entityKey = (uid: EntityUid): string => `${uid.type}\u0000${uid.id}`

/**
 * Compiles a slice's policies, or returns undefined when one of them uses a construct outside the
 * subset (the engine then decides the whole slice).
 *
 * @example
 * const slice = compileSlice({ 'read': policyJson })
 * slice?.decide(input) // { decision: 'allow', policies: ['read'], errors: [] }
 */
export function compileSlice(policies: Record<string, PolicyJson>): CompiledSlice | undefined {
  const compiled: { id: string; forbid: boolean; applies: Compiled }[] = []
  try {
    for (const [id, policy] of Object.entries(policies)) {
      if (policy.effect !== 'permit' && policy.effect !== 'forbid') return undefined
      compiled.push({ id, forbid: policy.effect === 'forbid', applies: compilePolicy(policy) })
    }
  } catch (err) {
    if (err instanceof OutsideSubset) return undefined
    throw err
  }
  return {
    decide(input) {
      const permits: string[] = []
      const forbids: string[] = []
      const errors: string[] = []
      for (const policy of compiled) {
        try {
          if (policy.applies(input) === true) (policy.forbid ? forbids : permits).push(policy.id)
        } catch (err) {
          if (err !== EVAL_ERROR) return undefined // UNSURE, or a fault of this code
          errors.push(policy.id)
        }
      }
      if (forbids.length > 0) return { decision: 'deny', policies: forbids, errors }
      if (permits.length > 0) return { decision: 'allow', policies: permits, errors }
      return { decision: 'deny', policies: [], errors }
    },
  }
}

// -- Policies -------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function compilePolicy(policy: PolicyJson): Compiled {
  const parts: Compiled[] = []
  for (const [constraint, read] of [
    [policy.principal, principalOf],
    [policy.action, actionOf],
    [policy.resource, resourceOf],
  ] as const) {
    const part = scope(constraint as unknown as Json, read)
    if (part) parts.push(part)
  }
  const conditions = policy.conditions as unknown as Json
  if (!Array.isArray(conditions)) throw new OutsideSubset()
  for (const condition of conditions) {
    const { kind, body } = record(condition)
    const test = expression(body ?? null, 0)
    if (kind === 'when') parts.push((input) => bool(test(input)))
    else if (kind === 'unless') parts.push((input) => !bool(test(input)))
    else throw new OutsideSubset()
  }
  // `scope && when && !unless …`, left to right; every part is a Bool (checked above).
  return (input) => {
    for (const part of parts) if (part(input) === false) return false
    return true
  }
}

/** A scope constraint (`principal …`, `action …`, `resource …`) of the variable `read` reads. */
function scope(node: Json, read: (input: EvaluationInput) => EntityUid): Compiled | undefined {
  const constraint = record(node)
  switch (constraint.op) {
    case 'All':
      only(constraint, ['op'])
      return undefined
    case '==': {
      only(constraint, ['op', 'entity'])
      const target = entityRef(constraint.entity)
      return (input) => sameEntity(read(input), target)
    }
    case 'in': {
      // `action in [A, B]` lists its entities; `principal in E`, `action in A` name one.
      const list = constraint.entities !== undefined
      only(constraint, ['op', list ? 'entities' : 'entity'])
      if (list && !Array.isArray(constraint.entities)) throw new OutsideSubset()
      const targets = list
        ? (constraint.entities as Json[]).map(entityRef)
        : [entityRef(constraint.entity)]
      return (input) => inAny(input, read(input), targets)
    }
    case 'is': {
      only(constraint, ['op', 'entity_type', 'in'])
      const type = typeName(constraint.entity_type)
      if (constraint.in === undefined) return (input) => read(input).type === type
      const targets = [entityRef(record(constraint.in).entity)]
      only(record(constraint.in), ['entity'])
      return (input) => read(input).type === type && inAny(input, read(input), targets)
    }
    default:
      throw new OutsideSubset() // slots (templates) and anything newer
  }
}

const principalOf = (input: EvaluationInput) => input.principal
const actionOf = (input: EvaluationInput) => input.action
const resourceOf = (input: EvaluationInput) => input.resource

// -- Expressions ----------------------------------------------------------------------------------

const BINARY = new Set([
  '==',
  '!=',
  'in',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  'contains',
  'containsAll',
  'containsAny',
])

function expression(node: Json, depth: number): Compiled {
  if (depth > MAX_DEPTH) throw new OutsideSubset()
  const keys =
    typeof node === 'object' && node !== null && !Array.isArray(node) ? Object.keys(node) : []
  if (keys.length !== 1) throw new OutsideSubset()
  const op = keys[0] as string
  const body = (node as Record<string, Json>)[op] as Json
  const sub = (n: Json | undefined) => expression(n ?? null, depth + 1)

  if (op === 'Value') {
    const value = literal(body)
    return () => value
  }
  if (op === 'Var') {
    switch (body) {
      case 'principal':
        return principalOf
      case 'action':
        return actionOf
      case 'resource':
        return resourceOf
      case 'context':
        return (input) => input.context
      default:
        throw new OutsideSubset()
    }
  }
  if (BINARY.has(op)) {
    const operands = record(body)
    only(operands, ['left', 'right'])
    return binary(op, sub(operands.left), sub(operands.right))
  }
  switch (op) {
    case '!': {
      only(record(body), ['arg'])
      const arg = sub(record(body).arg)
      return (input) => !bool(arg(input))
    }
    case 'neg': {
      only(record(body), ['arg'])
      const arg = sub(record(body).arg)
      return (input) => long(-long(arg(input)))
    }
    case 'isEmpty': {
      only(record(body), ['arg'])
      const arg = sub(record(body).arg)
      return (input) => set(arg(input)).items.length === 0
    }
    case '.': {
      const { left, attr } = record(body)
      only(record(body), ['left', 'attr'])
      const target = sub(left)
      const name = attrName(attr)
      return (input) => getAttr(input, target(input), name)
    }
    case 'has': {
      const { left, attr } = record(body)
      only(record(body), ['left', 'attr'])
      const target = sub(left)
      const path = Array.isArray(attr) ? attr.map(attrName) : [attrName(attr)]
      if (path.length === 0) throw new OutsideSubset()
      // `e has a.b` is `e has a && e.a has b` (expr_builder.rs, extended_has_attr).
      return (input) => {
        let value = target(input)
        for (let i = 0; i < path.length; i++) {
          const name = path[i] as string
          if (!hasAttr(input, value, name)) return false
          if (i < path.length - 1) value = getAttr(input, value, name)
        }
        return true
      }
    }
    case 'like': {
      const { left, pattern } = record(body)
      only(record(body), ['left', 'pattern'])
      const target = sub(left)
      const matcher = likePattern(pattern)
      return (input) => {
        const value = target(input)
        if (typeof value !== 'string') throw EVAL_ERROR
        return matcher.test(value)
      }
    }
    case 'is': {
      const operands = record(body)
      only(operands, ['left', 'entity_type', 'in'])
      const target = sub(operands.left)
      const type = typeName(operands.entity_type)
      const within = operands.in === undefined ? undefined : sub(operands.in)
      return (input) => {
        const value = entity(target(input))
        if (value.type !== type) return false
        if (within === undefined) return true
        // `x is T in E` is `x is T && x in E`: x again, then E, then `in`'s checks.
        return inValue(input, target(input), within(input))
      }
    }
    case 'if-then-else': {
      const parts = record(body)
      only(parts, ['if', 'then', 'else'])
      const test = sub(parts.if)
      const then = sub(parts.then)
      const otherwise = sub(parts.else)
      return (input) => (bool(test(input)) ? then(input) : otherwise(input))
    }
    case 'Set': {
      if (!Array.isArray(body)) throw new OutsideSubset()
      const items = body.map(sub)
      return (input) => new CedarSet(items.map((item) => item(input)))
    }
    case 'Record': {
      const fields = Object.entries(record(body)).map(([k, v]) => [attrName(k), sub(v)] as const)
      return (input) => new CedarRecord(new Map(fields.map(([k, v]) => [k, v(input)])))
    }
    default:
      // Slots, unknowns, getTag/hasTag, extension functions (ip, decimal, datetime, …).
      throw new OutsideSubset()
  }
}

function binary(op: string, left: Compiled, right: Compiled): Compiled {
  switch (op) {
    case '&&':
      return (input) => bool(left(input)) && bool(right(input))
    case '||':
      return (input) => bool(left(input)) || bool(right(input))
  }
  // Every other operator evaluates both operands (left, then right) before it checks types.
  const apply = binaryOperation(op)
  return (input) => {
    const a = left(input)
    return apply(input, a, right(input))
  }
}

function binaryOperation(op: string): (input: EvaluationInput, a: Value, b: Value) => Value {
  switch (op) {
    case '==':
      return (_, a, b) => equal(a, b)
    case '!=':
      return (_, a, b) => !equal(a, b)
    case 'in':
      return inValue
    case '<':
      return (_, a, b) => long(a) < long(b)
    case '<=':
      return (_, a, b) => long(a) <= long(b)
    case '>':
      return (_, a, b) => long(a) > long(b)
    case '>=':
      return (_, a, b) => long(a) >= long(b)
    case '+':
      return (_, a, b) => long(long(a) + long(b))
    case '-':
      return (_, a, b) => long(long(a) - long(b))
    case '*':
      return (_, a, b) => long(long(a) * long(b))
    case 'contains':
      return (_, a, b) => set(a).items.some((item) => equal(item, b))
    case 'containsAll':
      return (_, a, b) => {
        const within = set(a)
        return set(b).items.every((x) => within.items.some((y) => equal(x, y)))
      }
    case 'containsAny':
      return (_, a, b) => {
        const within = set(a)
        return set(b).items.some((x) => within.items.some((y) => equal(x, y)))
      }
    default:
      throw new OutsideSubset()
  }
}

// -- Operations -----------------------------------------------------------------------------------

function bool(value: Value): boolean {
  if (typeof value !== 'boolean') throw EVAL_ERROR
  return value
}

/** A Long operand or result; one outside the safe-integer range is the engine's to judge. */
function long(value: Value): number {
  if (typeof value !== 'number') throw EVAL_ERROR
  if (!Number.isSafeInteger(value)) throw UNSURE
  return value
}

function set(value: Value): CedarSet {
  if (!(value instanceof CedarSet)) throw EVAL_ERROR
  return value
}

function entity(value: Value): EntityUid {
  if (!(value instanceof EntityUid)) throw EVAL_ERROR
  return value
}

const sameEntity = (a: EntityUid, b: EntityUid) => a.type === b.type && a.id === b.id

const stored = (input: EvaluationInput, uid: EntityUid): StoredEntity | undefined =>
  input.entities.get(entityKey(uid))

function inAny(input: EvaluationInput, uid: EntityUid, targets: readonly EntityUid[]): boolean {
  const ancestors = stored(input, uid)?.ancestors
  for (const target of targets) {
    if (sameEntity(uid, target)) return true
    if (ancestors !== undefined && ancestors.has(entityKey(target))) return true
  }
  return false
}

/** `a in b`: a must be an entity; b an entity or a Set of entities (all checked first). */
function inValue(input: EvaluationInput, a: Value, b: Value): boolean {
  const uid = entity(a)
  if (b instanceof EntityUid) return inAny(input, uid, [b])
  if (!(b instanceof CedarSet)) throw EVAL_ERROR
  return inAny(input, uid, b.items.map(entity))
}

function getAttr(input: EvaluationInput, value: Value, name: string): Value {
  let attrs: ReadonlyMap<string, Value> | undefined
  if (value instanceof CedarRecord) attrs = value.attrs
  else if (value instanceof EntityUid) attrs = stored(input, value)?.attrs
  else throw EVAL_ERROR
  const found = attrs?.get(name)
  if (found === undefined) throw EVAL_ERROR
  return found
}

function hasAttr(input: EvaluationInput, value: Value, name: string): boolean {
  if (value instanceof CedarRecord) return value.attrs.has(name)
  if (value instanceof EntityUid) return stored(input, value)?.attrs.has(name) ?? false
  throw EVAL_ERROR
}

/** Cedar's `==`: never an error; different types are unequal; Sets as sets. */
function equal(a: Value, b: Value): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object') return false
  if (a instanceof EntityUid) return b instanceof EntityUid && sameEntity(a, b)
  if (a instanceof CedarSet) {
    if (!(b instanceof CedarSet)) return false
    return (
      a.items.every((x) => b.items.some((y) => equal(x, y))) &&
      b.items.every((y) => a.items.some((x) => equal(x, y)))
    )
  }
  if (!(b instanceof CedarRecord) || a.attrs.size !== b.attrs.size) return false
  for (const [name, value] of a.attrs) {
    const other = b.attrs.get(name)
    if (other === undefined || !equal(value, other)) return false
  }
  return true
}

// -- Literals and input ---------------------------------------------------------------------------

function record(node: Json | undefined): Record<string, Json | undefined> {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new OutsideSubset()
  return node
}

function only(node: Record<string, Json | undefined>, allowed: string[]): void {
  for (const key of Object.keys(node)) if (!allowed.includes(key)) throw new OutsideSubset()
}

function attrName(node: Json | undefined): string {
  if (typeof node !== 'string' || !wellFormed(node)) throw new OutsideSubset()
  return node
}

function typeName(node: Json | undefined): string {
  if (typeof node !== 'string' || !plainTypeName(node)) throw new OutsideSubset()
  return node
}

/** `{type, id}` or `{"__entity": {type, id}}`. */
function entityRef(node: Json | undefined): EntityUid {
  let ref = record(node)
  if (ref.__entity !== undefined) {
    only(ref, ['__entity'])
    ref = record(ref.__entity)
  }
  only(ref, ['type', 'id'])
  return new EntityUid(typeName(ref.type), attrName(ref.id))
}

/** A literal as the parser writes it: Bool, Long, String or entity (anything else: the engine). */
function literal(node: Json): Value {
  if (typeof node === 'boolean') return node
  if (typeof node === 'number') {
    if (!Number.isSafeInteger(node)) throw new OutsideSubset()
    return node
  }
  if (typeof node === 'string') return attrName(node)
  return entityRef(node)
}

/** Cedar's `like` pattern (`[{"Literal": "a"}, "Wildcard", …]`) as a RegExp over code points. */
function likePattern(node: Json | undefined): RegExp {
  if (!Array.isArray(node)) throw new OutsideSubset()
  const source = node
    .map((element) => {
      if (element === 'Wildcard') return '.*'
      const { Literal } = record(element)
      only(record(element), ['Literal'])
      if (typeof Literal !== 'string' || [...Literal].length !== 1 || !wellFormed(Literal)) {
        throw new OutsideSubset()
      }
      return Literal.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')
    })
    .join('')
  // `u`: one `.` per code point (Cedar matches chars); `s`: `.` matches line breaks too.
  return new RegExp(`^${source}$`, 'su')
}

/**
 * A value of the request (an attribute, the context) as the engine would read it, or `UNSURE`
 * thrown when the engine might read it otherwise or refuse it: only JSON-shaped Bool, safe-integer
 * Long, well-formed String, array (Set) and plain object (record; no `__entity`/`__extn`/`__expr`
 * escape) values are taken.
 *
 * @example inputValue(['admin']) // a Set of one String
 */
export function inputValue(json: CedarValueJson | unknown): Value {
  switch (typeof json) {
    case 'boolean':
      return json
    case 'number':
      if (!Number.isSafeInteger(json)) throw UNSURE
      return json
    case 'string':
      if (!wellFormed(json)) throw UNSURE
      return json
    case 'object': {
      if (json === null) throw UNSURE
      if (Array.isArray(json)) return new CedarSet(json.map(inputValue))
      return new CedarRecord(inputRecord(json as Record<string, unknown>))
    }
    default:
      throw UNSURE
  }
}

/**
 * A record of the request (attributes, context) as a map; throws `UNSURE` like `inputValue`.
 *
 * @example inputRecord({ dpopBound: true }).get('dpopBound') // true
 */
export function inputRecord(json: Record<string, unknown>): Map<string, Value> {
  const prototype = Object.getPrototypeOf(json) as unknown
  if (prototype !== Object.prototype && prototype !== null) throw UNSURE
  for (const escape of ['__entity', '__extn', '__expr'])
    if (Object.hasOwn(json, escape)) throw UNSURE
  const out = new Map<string, Value>()
  for (const name of Object.keys(json)) {
    if (!wellFormed(name)) throw UNSURE
    out.set(name, inputValue(json[name]))
  }
  return out
}

/** `{type, id}` of the call (no `__entity` escape) with a plain type and a well-formed id. */
function inputUid(json: unknown): EntityUid {
  if (typeof json !== 'object' || json === null) throw UNSURE
  const { type, id } = json as { type?: unknown; id?: unknown }
  if (Object.keys(json).length !== 2 || typeof type !== 'string' || typeof id !== 'string') {
    throw UNSURE
  }
  if (!plainType(type) || !wellFormed(id)) throw UNSURE
  return new EntityUid(type, id)
}

const plainTypes = new Map<string, boolean>()

function plainType(type: string): boolean {
  let plain = plainTypes.get(type)
  if (plain === undefined) {
    plain = plainTypeName(type)
    if (plainTypes.size < 1000) plainTypes.set(type, plain)
  }
  return plain
}

/** Entities read once per frozen entity object (compiled-set.ts freezes the ones it reuses). */
const storedEntities = new WeakMap<EntityJson, StoredEntity>()

function storedEntity(json: EntityJson): StoredEntity {
  const known = storedEntities.get(json)
  if (known !== undefined) return known
  if (Object.keys(json).some((k) => k !== 'uid' && k !== 'attrs' && k !== 'parents')) throw UNSURE
  const { attrs, parents } = json as { attrs?: unknown; parents?: unknown }
  if (typeof attrs !== 'object' || attrs === null || !Array.isArray(parents)) throw UNSURE
  const entity: StoredEntity = {
    attrs: inputRecord(attrs as Record<string, unknown>),
    ancestors: new Set(parents.map((p) => entityKey(inputUid(p)))),
  }
  if (frozenDeep(json)) storedEntities.set(json, entity)
  return entity
}

function frozenDeep(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  return Object.isFrozen(value) && Object.values(value).every(frozenDeep)
}

/** Ancestors closed transitively through the call's entities, as the engine computes them. */
function closed(entities: Map<string, StoredEntity>): Map<string, StoredEntity> {
  let grown = true
  while (grown) {
    grown = false
    for (const [key, entity] of entities) {
      const ancestors = new Set(entity.ancestors)
      for (const ancestor of entity.ancestors) {
        for (const further of entities.get(ancestor)?.ancestors ?? []) ancestors.add(further)
      }
      if (ancestors.size > entity.ancestors.size) {
        entities.set(key, { attrs: entity.attrs, ancestors })
        grown = true
      }
    }
  }
  return entities
}
