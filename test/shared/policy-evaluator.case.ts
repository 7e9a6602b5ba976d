/**
 * The compiled evaluator (src/policy/evaluator.ts) against the engine, runtime-neutral: random
 * policies in the evaluator's subset (errors included: operands of the wrong type, missing
 * attributes, entities not in the request, Long overflow), random principals, resources, actions
 * and contexts whose values may be of any type, compared with the engine's answer: decision,
 * determining policies and erroring policies. Run on Node (test/unit/policy) and in workerd
 * (test/workers/policy.test.ts).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compilePolicySet, type CompiledPolicySet } from '../../src/policy/compiled-set.ts'
import { createDecisionCache } from '../../src/policy/decision-cache.ts'
import type {
  CedarModule,
  CedarValueJson,
  EntityJson,
  PolicyJson,
  SchemaJson,
} from '../../src/policy/engine.ts'
import { compileSlice, evaluateCall, type EngineCall } from '../../src/policy/evaluator.ts'
import { buildCedarRequest, type CedarRequest } from '../../src/policy/request.ts'

export interface EvaluatorSuiteOptions {
  runtime: string
  engine: () => CedarModule
}

const PROPERTY_TIMEOUT_MS = 120_000

/** Actions and their groups (`A` and `C` are in `G`), as the schema's `memberOf` says. */
const GROUPS: Record<string, string[]> = { A: ['G'], B: [], C: ['G'], G: [] }
const SCHEMA = {
  '': {
    entityTypes: {},
    actions: Object.fromEntries(
      Object.entries(GROUPS).map(([a, g]) => [a, { memberOf: g.map((id) => ({ id })) }]),
    ),
  },
} as unknown as SchemaJson<string>

const ATTRIBUTES = ['roles', 'groups', 'tenant', 'n', 'rec', 'flag', 'a', 'b', 'time', 'missing']
const ENTITIES = [
  'User::"alice"',
  'User::"bob"',
  'Client::"svc"',
  'Thing::"t1"',
  'Group::"g1"',
  'Action::"A"',
  'Action::"G"',
]
const TYPES = ['User', 'Client', 'Thing', 'Group', 'Action']
/** Cedar string literals (as written in policy text). */
const STRINGS = ['""', '"a"', '"r1"', '"g1"', '"alice"', '"a*b"', '"ü"', '"😀"', '"a\\nb"']
const PATTERNS = ['"a*"', '"*"', '""', '"a\\*b"', '"*b"', '"a*b*"', '"*😀*"', '"r1"', '"a\\nb"']
const LONGS = ['0', '1', '-1', '2', '3', '9007199254740991', '-9007199254740991', '4194304']
/** Sums and products past 2^53 (exact only in the engine) and past 2^63 (an overflow error). */
const BIG = [
  '(9007199254740991 + 1)',
  '(9007199254740991 + 2)',
  '(-9007199254740991 - 2)',
  '(9007199254740991 * 4194304)',
  '(4194304 * 4194304)',
]
/** Set literals: equal as sets in another order or with duplicates; entities mixed with others. */
const SETS = [
  '[]',
  '["r1"]',
  '["r1", "g1"]',
  '["g1", "r1"]',
  '["r1", "r1", "g1"]',
  '[User::"alice", 1]',
  '[1, User::"alice"]',
  '[User::"alice", Group::"g1"]',
  '[Action::"G"]',
]

/** Expressions of the evaluator's subset, as Cedar text (every compound parenthesised). */
const expression: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => {
  const e = () => tie('expr')
  const leaf = fc.oneof(
    fc.constantFrom('principal', 'resource', 'action', 'context'),
    fc.constantFrom('true', 'false'),
    fc.constantFrom(...LONGS),
    fc.constantFrom(...BIG),
    fc.constantFrom(...SETS),
    fc.constantFrom(...STRINGS),
    fc.constantFrom(...ENTITIES),
    fc
      .tuple(fc.constantFrom('principal', 'resource', 'context', 'User::"alice"', 'action'), attr())
      .map(([v, a]) => `${v}.${a}`),
  )
  const node = fc.oneof(
    e().map((a) => `(!(${a}))`),
    e().map((a) => `(-(${a}))`),
    fc
      .tuple(
        e(),
        fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '&&', '||', '+', '-', '*', 'in'),
        e(),
      )
      .map(([a, op, b]) => `((${a}) ${op} (${b}))`),
    fc
      .tuple(e(), fc.constantFrom('contains', 'containsAll', 'containsAny'), e())
      .map(([a, m, b]) => `((${a}).${m}(${b}))`),
    e().map((a) => `((${a}).isEmpty())`),
    fc.tuple(e(), attr()).map(([a, n]) => `((${a}) has ${n})`),
    fc.tuple(e(), attr(), attr()).map(([a, n, m]) => `((${a}) has ${n}.${m})`),
    fc.tuple(e(), attr()).map(([a, n]) => `((${a}).${n})`),
    fc.tuple(e(), fc.constantFrom(...PATTERNS)).map(([a, p]) => `((${a}) like ${p})`),
    fc.tuple(e(), fc.constantFrom(...TYPES)).map(([a, t]) => `((${a}) is ${t})`),
    fc.tuple(e(), fc.constantFrom(...TYPES), e()).map(([a, t, b]) => `((${a}) is ${t} in (${b}))`),
    fc.tuple(e(), e(), e()).map(([a, b, c]) => `(if (${a}) then (${b}) else (${c}))`),
    fc.array(e(), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.tuple(e(), e()).map(([a, b]) => `{"a": ${a}, "b": ${b}}`),
  )
  return { expr: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, node) }
}).expr

/** Tests at the edges of Cedar's semantics, for the random inputs to meet. */
const EDGES = [
  '["r1", "g1"] == ["g1", "r1"]',
  '["r1", "r1", "g1"] == ["g1", "r1"]',
  'principal.roles == ["r1", "g1"]',
  'principal.roles.containsAll(["g1", "r1"])',
  'principal.roles.containsAny(context.a)',
  'principal in [User::"alice", 1]',
  'principal in [1, User::"alice"]',
  'resource in [Thing::"t1", "t1"]',
  'action in [Action::"G", principal]',
  '(9007199254740991 + 2) == (9007199254740991 + 1)',
  '(9007199254740991 * 4194304) > 0',
  'context.n * context.n > 0',
  'context.n + 2 == context.n + 1',
  '-context.n < 0',
  'context.a == User::"alice"',
  'context.a == {"type": "User", "id": "alice"}',
  'context.a has a',
  'context.a has type',
  'principal.rec == {"a": 1, "b": 2}',
  'principal.rec.a == 1',
  'principal has rec.a',
  'principal.n < 3',
  'context.a like "a*"',
  'context.b like "a*b"',
  '"a\\nb" like "a*b"',
  '"😀" like "?*"',
  'context.a.isEmpty()',
  'User::"bob".roles.contains("r1")',
  'User::"bob" has roles',
  'resource.roles.contains("r1")',
  'resource has roles',
  'action has a',
  'principal.tenant == resource.tenant',
  'context.time >= 1',
  'context.flag',
]

/** Mostly Bool-valued tests (so that policies apply often), any expression now and then. */
const condition: fc.Arbitrary<string> = fc.letrec<{ test: string }>((tie) => ({
  test: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 1, arbitrary: expression },
    { weight: 4, arbitrary: fc.constantFrom(...EDGES) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(expression, fc.constantFrom('==', '!=', '<', '<=', '>', '>=', 'in'), expression)
        .map(([a, op, b]) => `((${a}) ${op} (${b}))`),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(expression, fc.constantFrom('contains', 'containsAll', 'containsAny'), expression)
        .map(([a, m, b]) => `((${a}).${m}(${b}))`),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(expression, attr()).map(([a, n]) => `((${a}) has ${n})`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(expression, fc.constantFrom(...PATTERNS))
        .map(([a, p]) => `((${a}) like ${p})`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(expression, fc.constantFrom(...TYPES))
        .map(([a, t]) => `((${a}) is ${t})`),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(tie('test'), fc.constantFrom('&&', '||'), tie('test'))
        .map(([a, op, b]) => `((${a}) ${op} (${b}))`),
    },
    { weight: 1, arbitrary: tie('test').map((a) => `(!(${a}))`) },
  ),
})).test

function attr(): fc.Arbitrary<string> {
  return fc.constantFrom(...ATTRIBUTES)
}

const policyText = fc
  .record({
    effect: fc.constantFrom('permit', 'forbid'),
    principal: fc.constantFrom(
      'principal',
      'principal',
      'principal',
      'principal == User::"alice"',
      'principal in Group::"g1"',
      'principal in User::"bob"',
      'principal is User',
      'principal is Client in Client::"svc"',
    ),
    action: fc.constantFrom(
      'action',
      'action',
      'action == Action::"A"',
      'action in Action::"G"',
      'action in [Action::"A", Action::"B"]',
    ),
    resource: fc.constantFrom(
      'resource',
      'resource',
      'resource',
      'resource == Thing::"t1"',
      'resource in User::"alice"',
      'resource is Thing',
      'resource is User in User::"alice"',
    ),
    conditions: fc.array(fc.tuple(fc.constantFrom('when', 'when', 'unless'), condition), {
      maxLength: 2,
    }),
  })
  .map(
    (p) =>
      `${p.effect} (${p.principal}, ${p.action}, ${p.resource})` +
      p.conditions.map(([kind, body]) => ` ${kind} { ${body} }`).join('') +
      ';',
  )

/** Shapes the engine reads its own way: an entity, an extension value, a record like an entity. */
const escapedValue = fc.constantFrom<unknown>(
  { __entity: { type: 'User', id: 'alice' } },
  { __extn: { fn: 'ip', arg: '10.0.0.1' } },
  { type: 'User', id: 'alice' },
)

/** Values of any type, mostly ones the engine takes; a few it refuses or reads its own way. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    {
      weight: 6,
      arbitrary: fc.constantFrom('', 'a', 'r1', 'g1', 'alice', 'a*b', 'ü', '😀', 'a\nb'),
    },
    { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
    { weight: 2, arbitrary: fc.constantFrom(9007199254740991, -9007199254740991, 4194304) },
    { weight: 3, arbitrary: fc.boolean() },
    { weight: 4, arbitrary: fc.array(tie('value'), { maxLength: 3 }) },
    { weight: 2, arbitrary: fc.shuffledSubarray(['r1', 'g1', 'r1']) },
    { weight: 2, arbitrary: fc.record({ a: tie('value'), b: tie('value') }) },
    { weight: 2, arbitrary: escapedValue },
    // Values the engine refuses or cannot hold exactly. (Not lone surrogates: each one the engine
    // is given leaks its memory; the test below keeps them from it.)
    { weight: 1, arbitrary: fc.constantFrom<unknown>(2 ** 53, 1.5, null) },
  ),
})).value

const requestArbitrary = fc.record({
  principal: fc.record({
    type: fc.constantFrom('User', 'Client'),
    id: fc.constantFrom('alice', 'bob', 'svc'),
  }),
  attrs: fc.dictionary(fc.constantFrom(...ATTRIBUTES), anyValue, { maxKeys: 5 }),
  action: fc.constantFrom('A', 'B', 'C', 'G'),
  resource: fc.record({
    type: fc.constantFrom('Thing', 'User', 'Group'),
    id: fc.constantFrom('t1', 'alice', 'g1'),
  }),
  context: fc.record(
    {
      // `a` is often a value the engine reads its own way (an entity, an extension value).
      a: fc.oneof(anyValue, escapedValue),
      b: anyValue,
      n: fc.oneof(anyValue, fc.constantFrom(9007199254740991, -9007199254740991, 3)),
      time: anyValue,
      flag: anyValue,
    },
    { requiredKeys: [] },
  ),
})

type RandomRequest = typeof requestArbitrary extends fc.Arbitrary<infer R> ? R : never

/** The engine call for `r` with every attribute (no slicing, no cutting): the oracle's. */
function wholeCall(r: RandomRequest): EngineCall {
  const entities: EntityJson[] = [
    { uid: r.principal, attrs: r.attrs as Record<string, CedarValueJson>, parents: [] },
  ]
  const groups = GROUPS[r.action] ?? []
  if (groups.length > 0) {
    entities.push({
      uid: { type: 'Action', id: r.action },
      attrs: {},
      parents: groups.map((id) => ({ type: 'Action', id })),
    })
  }
  return {
    principal: r.principal,
    action: { type: 'Action', id: r.action },
    resource: r.resource,
    context: r.context as Record<string, CedarValueJson>,
    entities,
  }
}

type Answer = { ok: true; decision: string; policies: string[]; errors: string[] } | { ok: false }

export function definePolicyEvaluatorSuite({ runtime, engine }: EvaluatorSuiteOptions): void {
  /** The policies as JSON (as published), or undefined when one does not parse. */
  function parsed(texts: string[]): Record<string, PolicyJson> | undefined {
    const policies: Record<string, PolicyJson> = {}
    for (const [i, text] of texts.entries()) {
      const answer = engine().policyToJson(text)
      if (answer.type !== 'success') return undefined
      policies[`p${i}`] = answer.json
    }
    return policies
  }

  /** One id for the oracle's set: each run's set replaces the last (the engine's memory). */
  const setId = `evaluator-whole-${runtime}`

  /** The policies, pre-parsed whole for the oracle; a run whose text does not parse is skipped. */
  function wholeSet(texts: string[]): Record<string, PolicyJson> {
    const policies = parsed(texts)
    fc.pre(policies !== undefined)
    engine().preparsePolicySet(setId, { staticPolicies: policies as never })
    return policies as Record<string, PolicyJson>
  }

  /** The engine's answer on `call` with the policies pre-parsed as `setId`. */
  function engineAnswer(call: EngineCall): Answer {
    try {
      const answer = engine().statefulIsAuthorized({ ...call, preparsedPolicySetId: setId })
      if (answer.type !== 'success') return { ok: false }
      return {
        ok: true,
        decision: answer.response.decision,
        policies: [...answer.response.diagnostics.reason].sort(),
        errors: answer.response.diagnostics.errors.map((e) => e.policyId).sort(),
      }
    } catch {
      return { ok: false } // the engine threw (a string it cannot hold): a failed call
    }
  }

  function compiled(policies: Record<string, PolicyJson>): CompiledPolicySet {
    const result = compilePolicySet(
      engine(),
      {
        format: 1,
        tenant: 'default',
        version: 1,
        publishedAt: new Date(0).toISOString(),
        schema: SCHEMA,
        policies,
      },
      // One slot per runtime: each new set replaces the last one's slices in the engine.
      { slot: `evaluator-set-${runtime}`, cache: createDecisionCache() },
    )
    if (!result.ok) throw new Error(result.reason)
    return result.set
  }

  const sorted = (d: {
    decision: string
    policies: readonly string[]
    errors: readonly string[]
  }) => ({
    decision: d.decision,
    policies: [...d.policies].sort(),
    errors: [...d.errors].sort(),
  })

  describe(`Cedar compiled evaluator against the engine (${runtime})`, () => {
    it(
      'Cedar compiled evaluator gives the engine’s decision, determining policies and errors on the same call, or hands the call to the engine (property)',
      () => {
        let decided = 0
        let calls = 0
        fc.assert(
          fc.property(
            fc.array(policyText, { minLength: 1, maxLength: 4 }),
            fc.array(requestArbitrary, { minLength: 1, maxLength: 6 }),
            (texts, requests) => {
              const policies = wholeSet(texts)
              const slice = compileSlice(policies)
              expect(slice).toBeDefined() // every generated construct is in the subset
              for (const request of requests) {
                const call = wholeCall(request)
                const truth = engineAnswer(call)
                const evaluated = evaluateCall(slice!, call)
                calls++
                if (evaluated === undefined) continue
                decided++
                // Never an answer where the engine would refuse the call.
                expect(truth.ok).toBe(true)
                if (!truth.ok) continue
                expect(sorted(evaluated)).toEqual({
                  decision: truth.decision,
                  policies: truth.policies,
                  errors: truth.errors,
                })
              }
            },
          ),
          { numRuns: 1000 },
        )
        // A good share of the calls are the evaluator's (~30%; the rest hold a value it hands
        // over, an entity or extension value in the context most often): the test is not vacuous.
        expect(decided).toBeGreaterThan(calls / 5)
      },
      PROPERTY_TIMEOUT_MS,
    )

    it(
      'Cedar decisions of compiled sets equal the engine’s whole-set answer for random policies and requests (property)',
      () => {
        let byEvaluator = 0
        let decisions = 0
        fc.assert(
          fc.property(
            fc.array(policyText, { minLength: 1, maxLength: 5 }),
            fc.array(requestArbitrary, { minLength: 1, maxLength: 8 }),
            (texts, requests) => {
              const policies = wholeSet(texts)
              const set = compiled(policies)
              for (const r of requests) {
                const truth = engineAnswer(wholeCall(r))
                const request: CedarRequest = {
                  principal: r.principal,
                  action: r.action,
                  resource: r.resource,
                  principalEntity: {
                    uid: r.principal,
                    attrs: r.attrs as Record<string, CedarValueJson>,
                    parents: [],
                  },
                  context: r.context as Record<string, CedarValueJson>,
                }
                const decision = set.decide(request)
                // A call the engine refuses whole may succeed once cut to what the slice reads.
                if (!truth.ok) continue
                decisions++
                expect(sorted(decision)).toEqual({
                  decision: truth.decision,
                  policies: truth.policies,
                  errors: truth.errors,
                })
              }
              byEvaluator += set.decidedBy.evaluator
            },
          ),
          { numRuns: 500 },
        )
        expect(byEvaluator).toBeGreaterThan(decisions / 3)
      },
      PROPERTY_TIMEOUT_MS,
    )

    it('Cedar keeps strings that are not well-formed Unicode from the engine, and still decides after thousands', () => {
      const facts = {
        claims: { sub: 'alice', roles: ['r1'] },
        tenant: 'default',
        action: 'A',
        resource: { type: 'Thing', id: 't1' },
        nowMs: 0,
      }
      const refused = (over: object) => buildCedarRequest({ ...facts, ...over })
      expect(refused({ claims: { sub: 'alice', roles: ['\ud800'] } })).toEqual({
        ok: false,
        reason: 'claims_out_of_bounds',
      })
      expect(refused({ claims: { sub: 'a\udc00' } })).toMatchObject({ ok: false })
      expect(refused({ claims: { sub: 'alice', tenant: '\ud800' } })).toMatchObject({ ok: false })
      expect(refused({ resource: { type: 'Thing', id: '\ud800' } })).toEqual({
        ok: false,
        reason: 'params_out_of_bounds',
      })

      // The evaluator hands such a call over rather than decide what the engine cannot read.
      const rolesSlice = compileSlice(
        parsed(['permit (principal, action, resource) when { principal.roles == ["r1"] };'])!,
      )!
      const withRole = (role: string) =>
        wholeCall({
          principal: { type: 'User', id: 'alice' },
          attrs: { roles: [role] },
          action: 'B',
          resource: { type: 'Thing', id: 't1' },
          context: {},
        })
      expect(evaluateCall(rolesSlice, withRole('r1'))?.decision).toBe('allow')
      expect(evaluateCall(rolesSlice, withRole('\ud800'))).toBeUndefined()
      expect(
        evaluateCall(rolesSlice, { ...withRole('r1'), context: { a: '\udfff' } }),
      ).toBeUndefined()

      // A request built some other way still never reaches the engine with one: after 3,000 (the
      // engine's memory is corrupt after ~1,500 such calls) the set decides as before.
      const policies = parsed([
        // Read whole (not only tested for a literal member), so a role goes to the engine as it is.
        'permit (principal, action, resource) when { principal.roles == ["r1"] };',
        'permit (principal, action, resource) when { context.ip.isLoopback() };', // engine only
      ]) as Record<string, PolicyJson>
      const set = compiled(policies)
      const request = (role: string): CedarRequest => ({
        principal: { type: 'User', id: 'alice' },
        action: 'A',
        resource: { type: 'Thing', id: 't1' },
        principalEntity: {
          uid: { type: 'User', id: 'alice' },
          attrs: { roles: [role] },
          parents: [],
        },
        context: {},
      })
      for (let i = 0; i < 3000; i++) {
        expect(set.decide(request(`\ud800${i}`))).toMatchObject({
          decision: 'deny',
          errors: ['engine'],
        })
      }
      expect(set.decidedBy.engine).toBe(3000)
      expect(set.decide(request('r1'))).toMatchObject({ decision: 'allow' })
      expect(set.decidedBy.engine).toBe(3001)
    })
  })
}
