/**
 * The Cedar suites, runtime-neutral: the same cases run on Node (the package's nodejs build) and
 * inside workerd (its web build, instantiated from the bundled .wasm module). Real engine, real
 * memory store (and, on Node, test/unit/policy adds real Redis); the clock is injected.
 */
import fc from 'fast-check'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { requireAuth } from '../../src/http/require-auth.ts'
import type { LogRecord } from '../../src/http/log.ts'
import { authorize } from '../../src/policy/authorize.ts'
import { compilePolicySet, type CompiledPolicySet } from '../../src/policy/compiled-set.ts'
import { decide } from '../../src/policy/decide.ts'
import { createDecisionCache } from '../../src/policy/decision-cache.ts'
import type { CedarEngineLoader } from '../../src/policy/engine.ts'
import { policyHeadKey, type PolicyDocument } from '../../src/policy/policy-document.ts'
import { createPolicySets } from '../../src/policy/policy-sets.ts'
import { preparePolicySet } from '../../src/policy/prepare.ts'
import { PolicyStoreError, publishPolicySet, readPolicySet } from '../../src/policy/publish.ts'
import { buildCedarRequest, type RequestFacts } from '../../src/policy/request.ts'
import { mountPolicyRoutes, parsePolicyRoutes } from '../../src/policy/route-table.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../fixtures/keys.ts'
import { tenancyFixture } from './tenancy-fixture.ts'
import {
  T0,
  exampleFiles,
  exampleSchema,
  interruptible,
  publishExamples,
  userClaims,
} from './policy-fixtures.ts'

export interface PolicySuiteOptions {
  /** Which runtime runs the suite, for the test names. */
  runtime: string
  engine: CedarEngineLoader
}

// A generous bound for the property tests on a loaded machine (hundreds of engine calls each).
const PROPERTY_TIMEOUT_MS = 60_000
const READ = 'GET /documents/:id'
const WRITE = 'PUT /documents/:id'
const REPORT = 'GET /admin/report'
const doc = (id = '42') => ({ type: 'Document', id })
const report = { type: 'Report', id: 'q3' }

function facts(over: Partial<RequestFacts> = {}): RequestFacts {
  return {
    claims: userClaims(),
    tenant: 'default',
    action: READ,
    resource: doc(),
    nowMs: T0 * 1000,
    clientIp: '10.1.2.3',
    ...over,
  }
}

export function definePolicySuites({ runtime, engine }: PolicySuiteOptions): void {
  /** The example set compiled straight from its files (no L2). */
  function compileExample(
    files = exampleFiles,
    schema: string = exampleSchema,
    version = 1,
  ): CompiledPolicySet {
    const prepared = preparePolicySet(engine(), { schema, sources: files })
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.problems))
    const document: PolicyDocument = {
      format: 1,
      tenant: 'default',
      version,
      publishedAt: new Date(T0 * 1000).toISOString(),
      schema: prepared.set.schema,
      policies: prepared.set.policies,
    }
    const compiled = compilePolicySet(engine(), document, {
      slot: `test-${crypto.randomUUID()}`,
      cache: createDecisionCache(),
    })
    if (!compiled.ok) throw new Error(compiled.reason)
    return compiled.set
  }

  const decideOn = (set: CompiledPolicySet, over: Partial<RequestFacts> = {}) => {
    const built = buildCedarRequest(facts(over))
    if (!built.ok) throw new Error(built.reason)
    return set.decide(built.request)
  }

  /** `text` compiled as a set, and pre-parsed whole in the engine (the oracle's id). */
  const compiledWithWhole = (schema: string, text: string) => {
    const set = compileExample([{ name: 'set.cedar', text }], schema)
    const prepared = preparePolicySet(engine(), { schema, sources: [{ name: 'set.cedar', text }] })
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.problems))
    const whole = `whole-${crypto.randomUUID()}`
    engine().preparsePolicySet(whole, { staticPolicies: prepared.set.texts })
    return { set, whole }
  }

  /**
   * Expects `set`'s decision on `facts(over)`, and its determining policies, to be the engine's on
   * the whole set pre-parsed as `whole`, given the principal's full entity (no slicing, no cutting).
   */
  const expectEngineDecision = (
    set: CompiledPolicySet,
    whole: string,
    over: Partial<RequestFacts>,
  ) => {
    const built = buildCedarRequest(facts(over))
    if (!built.ok) throw new Error(built.reason)
    const r = built.request
    const oracle = engine().statefulIsAuthorized({
      principal: r.principal,
      action: { type: 'Action', id: r.action },
      resource: r.resource,
      context: r.context,
      entities: [r.principalEntity],
      preparsedPolicySetId: whole,
    })
    if (oracle.type !== 'success') throw new Error('oracle failed')
    const decision = set.decide(r)
    expect(decision.decision).toBe(oracle.response.decision)
    expect([...decision.policies].sort()).toEqual([...oracle.response.diagnostics.reason].sort())
    expect([...decision.errors].sort()).toEqual(
      oracle.response.diagnostics.errors.map((e) => e.policyId).sort(),
    )
  }

  describe(`Cedar decisions (${runtime})`, () => {
    const set = compileExample()

    it('Cedar permits a request a policy allows and names the determining policy', () => {
      const decision = decideOn(set)
      expect(decision).toMatchObject({ decision: 'allow', policies: ['documents-read-users'] })
      expect(decision.errors).toEqual([])
    })

    it('Cedar forbid overrides permit: a suspended user is denied what others may do', () => {
      const suspended = decideOn(set, { claims: userClaims({ groups: ['staff', 'suspended'] }) })
      expect(suspended).toMatchObject({ decision: 'deny', policies: ['suspended-users'] })
      const admin = { claims: userClaims({ roles: ['admin'] }), action: REPORT, resource: report }
      expect(decideOn(set, admin).decision).toBe('allow')
      const both = { ...admin, claims: userClaims({ roles: ['admin'], groups: ['suspended'] }) }
      expect(decideOn(set, both)).toMatchObject({ decision: 'deny', policies: ['suspended-users'] })
    })

    it('Cedar denies when no policy permits, with no determining policy', () => {
      const decision = decideOn(set, { action: REPORT, resource: report })
      expect(decision).toEqual({ decision: 'deny', policies: [], errors: [], cached: false })
    })

    it('Cedar applies a policy on an action group to its member actions (schema memberOf)', () => {
      const writer = userClaims({ scope: 'documents:write', cnf: { jkt: 'thumbprint' } })
      for (const action of [WRITE, 'DELETE /documents/:id']) {
        expect(decideOn(set, { action, claims: writer })).toMatchObject({
          decision: 'allow',
          policies: ['documents-write'],
        })
      }
      // The read group does not cover writes.
      expect(decideOn(set, { action: WRITE }).decision).toBe('deny')
    })

    it('Cedar sees DPoP binding in the context: writes need cnf.jkt (RFC 9449)', () => {
      const bearer = decideOn(set, {
        action: WRITE,
        claims: userClaims({ scope: 'documents:write' }),
      })
      expect(bearer).toMatchObject({ decision: 'deny', policies: ['documents-write-needs-dpop'] })
      for (const cnf of [{ jkt: '' }, { jkt: 7 }, 'jkt', null]) {
        const claims = userClaims({ scope: 'documents:write', cnf })
        expect(decideOn(set, { action: WRITE, claims }).decision).toBe('deny')
      }
    })

    it('Cedar sees the client address as an ipaddr, and denies when it is unknown', () => {
      const admin = { claims: userClaims({ roles: ['admin'] }), action: REPORT, resource: report }
      expect(decideOn(set, { ...admin, clientIp: '10.200.0.1' }).decision).toBe('allow')
      expect(decideOn(set, { ...admin, clientIp: '::1' }).decision).toBe('allow')
      for (const clientIp of [
        '203.0.113.9',
        '2001:db8::1',
        undefined,
        'not-an-ip',
        '10.0.0.1%eth0',
      ]) {
        expect(decideOn(set, { ...admin, clientIp })).toMatchObject({
          decision: 'deny',
          policies: ['admin-report-private-network'],
        })
      }
    })

    it('Cedar decides a client_credentials token as Client::"<client_id>"', () => {
      const service = (scope: string) =>
        userClaims({ sub: 'reporting', client_id: 'reporting', scope })
      const built = buildCedarRequest(facts({ claims: service('documents:read') }))
      expect(built.ok && built.request.principal).toEqual({ type: 'Client', id: 'reporting' })
      expect(decideOn(set, { claims: service('documents:read') })).toMatchObject({
        decision: 'allow',
        policies: ['documents-read-services'],
      })
      expect(decideOn(set, { claims: service('other') }).decision).toBe('deny')
    })

    it(
      'Cedar decisions on per-action slices equal those of the whole set (property)',
      () => {
        const e = engine()
        const whole = `whole-${crypto.randomUUID()}`
        const prepared = preparePolicySet(e, { schema: exampleSchema, sources: exampleFiles })
        if (!prepared.ok) throw new Error('example set invalid')
        expect(e.preparsePolicySet(whole, { staticPolicies: prepared.set.texts }).type).toBe(
          'success',
        )
        const actions = [READ, WRITE, 'DELETE /documents/:id', REPORT, 'GET /unknown']
        fc.assert(
          fc.property(
            fc.record({
              action: fc.constantFrom(...actions),
              scope: fc.subarray(['documents:read', 'documents:write', 'openid']),
              roles: fc.subarray(['admin', 'editor']),
              groups: fc.subarray(['suspended', 'staff']),
              dpop: fc.boolean(),
              service: fc.boolean(),
            }),
            ({ action, scope, roles, groups, dpop, service }) => {
              const claims = userClaims({
                scope: scope.join(' '),
                roles,
                groups,
                ...(dpop ? { cnf: { jkt: 'k' } } : {}),
                ...(service ? { sub: 'demo-spa' } : {}),
              })
              const resource = action === REPORT ? report : doc()
              const built = buildCedarRequest(
                facts({ claims, action, resource, clientIp: undefined }),
              )
              if (!built.ok) throw new Error(built.reason)
              const r = built.request
              const groupsOf: Record<string, string> = { [READ]: 'read', [WRITE]: 'write' }
              groupsOf['DELETE /documents/:id'] = 'write'
              const parent = groupsOf[action]
              const answer = e.statefulIsAuthorized({
                principal: r.principal,
                action: { type: 'Action', id: action },
                resource,
                context: r.context,
                entities: [
                  r.principalEntity,
                  {
                    uid: { type: 'Action', id: action },
                    attrs: {},
                    parents: parent ? [{ type: 'Action', id: parent }] : [],
                  },
                ],
                preparsedPolicySetId: whole,
              })
              if (answer.type !== 'success') throw new Error('whole-set call failed')
              const sliced = set.decide(r)
              expect(sliced.decision).toBe(answer.response.decision)
              expect([...sliced.policies].sort()).toEqual(
                [...answer.response.diagnostics.reason].sort(),
              )
            },
          ),
          { numRuns: 150 },
        )
      },
      PROPERTY_TIMEOUT_MS,
    )

    it(
      'Cedar cuts a set to the members its policies test for, and only then (property)',
      () => {
        const schema = `entity User, Client = { scope: Set<String>, roles: Set<String>,
          groups: Set<String>, amr: Set<String>, tenant: String, clientId: String };
          entity Thing;
          action "A", "B" appliesTo { principal: [User, Client], resource: [Thing] };`
        // On A roles, groups and amr are only tested for literal members; on B the same names
        // are read whole (isEmpty, ==, a non-literal argument), so nothing may be cut there.
        const text = `
          @id("a-lit") permit (principal, action == Action::"A", resource)
            when { principal.roles.contains("r1") };
          @id("a-any") permit (principal, action == Action::"A", resource)
            when { principal.groups.containsAny(["g1", "g2"]) && principal has amr };
          @id("a-all") forbid (principal, action == Action::"A", resource)
            when { principal.amr.containsAll(["pwd", "otp"]) };
          @id("b-empty") forbid (principal, action == Action::"B", resource)
            when { principal.groups.isEmpty() };
          @id("b-eq") permit (principal, action == Action::"B", resource)
            when { principal.roles == ["r2"] || principal.amr.contains(principal.tenant) };
          @id("b-lit") permit (principal, action == Action::"B", resource)
            when { principal.roles.contains("r1") };`
        const { set, whole } = compiledWithWhole(schema, text)
        fc.assert(
          fc.property(
            fc.constantFrom('A', 'B'),
            fc.subarray(['r1', 'r2', 'r3']),
            fc.subarray(['g1', 'g2', 'g3']),
            fc.subarray(['pwd', 'otp', 'hwk', 'default']),
            (action, roles, groups, amr) =>
              expectEngineDecision(set, whole, {
                action,
                resource: { type: 'Thing', id: 't' },
                claims: userClaims({ roles, groups, amr }),
              }),
          ),
          { numRuns: 200 },
        )
      },
      PROPERTY_TIMEOUT_MS,
    )

    it('Cedar decision cache keys on the principal attributes, not only its id', () => {
      const cached = compileExample()
      const first = decideOn(cached, { action: REPORT, resource: report, claims: userClaims() })
      expect(first).toMatchObject({ decision: 'deny', cached: false })
      expect(decideOn(cached, { action: REPORT, resource: report }).cached).toBe(true)
      // Same sub, new token with the admin role: never the cached deny of the old one.
      const admin = decideOn(cached, {
        action: REPORT,
        resource: report,
        claims: userClaims({ roles: ['admin'] }),
      })
      expect(admin).toMatchObject({ decision: 'allow', cached: false })
    })

    it('Cedar decision cache keys on the resource id only where a policy can tell ids apart', () => {
      const schema = `entity User, Client = { scope: Set<String>, roles: Set<String>,
        groups: Set<String>, amr: Set<String>, tenant: String, clientId: String };
        entity Thing;
        action "A", "B", "C" appliesTo { principal: [User, Client], resource: [Thing] };`
      const text = `
        @id("a-role") permit (principal, action == Action::"A", resource is Thing)
          when { principal.roles.contains("r1") };
        @id("b-role") permit (principal, action == Action::"B", resource)
          when { principal.roles.contains("r1") };
        @id("b-locked") forbid (principal, action == Action::"B", resource)
          when { resource == Thing::"locked" };
        @id("c-one") permit (principal, action == Action::"C", resource == Thing::"open");`
      const set = compileExample([{ name: 'ids.cedar', text }], schema)
      const on = (action: string, id: string) =>
        decideOn(set, {
          action,
          resource: { type: 'Thing', id },
          claims: userClaims({ roles: ['r1'] }),
        })
      // A decides every Thing alike: the second id is the first one's decision.
      expect(on('A', 'locked')).toMatchObject({ decision: 'allow', cached: false })
      expect(on('A', 'other')).toMatchObject({ decision: 'allow', cached: true })
      // B's forbid (a condition) and C's scope name an id: each id is decided on its own.
      expect(on('B', 'other')).toMatchObject({ decision: 'allow', cached: false })
      expect(on('B', 'locked')).toMatchObject({ decision: 'deny', cached: false })
      expect(on('C', 'open')).toMatchObject({ decision: 'allow', cached: false })
      expect(on('C', 'other')).toMatchObject({ decision: 'deny', cached: false })
    })

    it(
      'Cedar decisions shared across resource ids equal the engine’s for each id (property)',
      () => {
        const schema = `entity User, Client = { scope: Set<String>, roles: Set<String>,
          groups: Set<String>, amr: Set<String>, tenant: String, clientId: String };
          entity Folder;
          entity Thing in [Folder];
          action "A", "B", "C", "D" appliesTo { principal: [User, Client], resource: [Thing, Folder] };`
        const text = `
          @id("a-role") permit (principal, action == Action::"A", resource is Thing)
            when { principal.roles.contains("r1") };
          @id("a-any") permit (principal, action == Action::"A", resource)
            when { principal.groups.contains("g1") };
          @id("b-role") permit (principal, action == Action::"B", resource)
            when { principal.roles.contains("r1") };
          @id("b-locked") forbid (principal, action == Action::"B", resource)
            when { resource == Thing::"t1" || resource == Folder::"t2" };
          @id("c-in") permit (principal, action == Action::"C", resource in Folder::"t3");
          @id("d-is-in") permit (principal, action == Action::"D", resource is Thing in Thing::"t2");
          @id("d-any") forbid (principal, action == Action::"D", resource is Folder)
            when { principal.groups.contains("g2") };`
        const { set, whole } = compiledWithWhole(schema, text)
        fc.assert(
          fc.property(
            fc.array(
              fc.record({
                action: fc.constantFrom('A', 'B', 'C', 'D'),
                type: fc.constantFrom('Thing', 'Folder'),
                id: fc.constantFrom('t1', 't2', 't3', 't4'),
                roles: fc.subarray(['r1', 'r2']),
                groups: fc.subarray(['g1', 'g2']),
              }),
              { minLength: 1, maxLength: 12 },
            ),
            (requests) => {
              // One set, one cache across the sequence: a decision served for another id must
              // still be the engine's decision for this one.
              for (const { action, type, id, roles, groups } of requests) {
                expectEngineDecision(set, whole, {
                  action,
                  resource: { type, id },
                  claims: userClaims({ roles, groups }),
                })
              }
            },
          ),
          { numRuns: 100 },
        )
      },
      PROPERTY_TIMEOUT_MS,
    )

    /** Policies that tell principals apart in every way Cedar can, and two that cannot. */
    const principalSchema = `entity User, Client = { scope: Set<String>, roles: Set<String>,
      groups: Set<String>, amr: Set<String>, tenant: String, clientId: String };
      entity Thing;
      action "A", "B", "C", "D", "E", "F", "G" appliesTo { principal: [User, Client], resource: [Thing, User] };`
    const principalPolicies = `
      @id("a-role") permit (principal, action == Action::"A", resource)
        when { principal.roles.contains("r1") };
      @id("a-client") forbid (principal is Client, action == Action::"A", resource)
        when { principal.groups.contains("g1") };
      @id("b-alice") permit (principal == User::"alice", action == Action::"B", resource);
      @id("b-group") permit (principal, action == Action::"B", resource)
        when { principal.groups.contains("g2") };
      @id("c-in-bob") permit (principal in User::"bob", action == Action::"C", resource);
      @id("d-carol") permit (principal, action == Action::"D", resource)
        when { principal == User::"carol" || principal.roles.contains("r2") };
      @id("e-literal") permit (principal, action == Action::"E", resource)
        when { User::"alice".roles.contains("r1") };
      @id("f-resource") permit (principal, action == Action::"F", resource is User)
        when { resource has roles && resource.roles.contains("r1") };
      @id("g-is") forbid (principal, action == Action::"G", resource)
        when { principal is User && principal.groups.contains("g1") };
      @id("g-role") permit (principal, action == Action::"G", resource is Thing)
        when { principal.roles.contains("r1") };`

    it('Cedar decision cache leaves the principal id out where no policy can tell principals apart', () => {
      const set = compileExample(
        [{ name: 'principals.cedar', text: principalPolicies }],
        principalSchema,
      )
      const on = (action: string, sub: string) =>
        decideOn(set, {
          action,
          resource: { type: 'Thing', id: 't' },
          claims: userClaims({ sub, roles: ['r1'] }),
        })
      // A reads only roles and groups: bob is served carol's decision, not another engine call.
      expect(on('A', 'carol')).toMatchObject({ decision: 'allow', cached: false })
      expect(on('A', 'bob')).toMatchObject({ decision: 'allow', cached: true })
      // B's scope names alice: the same attributes are decided per principal.
      expect(on('B', 'bob')).toMatchObject({ decision: 'deny', cached: false })
      expect(on('B', 'alice')).toMatchObject({ decision: 'allow', cached: false })
      // E reads an attribute of User::"alice": only alice's own entity is in the request.
      expect(on('E', 'bob')).toMatchObject({ decision: 'deny', cached: false })
      expect(on('E', 'alice')).toMatchObject({ decision: 'allow', cached: false })
    })

    it(
      'Cedar decisions shared across principals equal the engine’s for each principal (property)',
      () => {
        const { set, whole } = compiledWithWhole(principalSchema, principalPolicies)
        fc.assert(
          fc.property(
            fc.array(
              fc.record({
                action: fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F', 'G'),
                // svc is a client_credentials token: Client::"svc".
                sub: fc.constantFrom('alice', 'bob', 'carol', 'svc'),
                resource: fc.constantFrom(
                  { type: 'Thing', id: 't' },
                  { type: 'User', id: 'alice' },
                  { type: 'User', id: 'bob' },
                ),
                roles: fc.subarray(['r1', 'r2']),
                groups: fc.subarray(['g1', 'g2']),
              }),
              { minLength: 1, maxLength: 12 },
            ),
            (requests) => {
              // One set, one cache across the sequence: a decision served for another principal
              // must still be the engine's decision (and errors) for this one.
              for (const { action, sub, resource, roles, groups } of requests) {
                expectEngineDecision(set, whole, {
                  action,
                  resource,
                  claims: userClaims({
                    sub,
                    roles,
                    groups,
                    ...(sub === 'svc' ? { client_id: 'svc' } : {}),
                  }),
                })
              }
            },
          ),
          { numRuns: 150 },
        )
      },
      PROPERTY_TIMEOUT_MS,
    )

    it('Cedar builds the principal once per frozen claims object and decides the same', () => {
      const set = compileExample()
      const claims = Object.freeze({
        ...userClaims({ roles: Object.freeze(['editor']) }),
        groups: Object.freeze(['staff']),
      })
      const first = buildCedarRequest(facts({ claims }))
      const again = buildCedarRequest(facts({ claims, nowMs: (T0 + 5) * 1000 }))
      if (!first.ok || !again.ok) throw new Error('not built')
      // The L1 token cache hands a token's requests one frozen claims object: one principal.
      expect(again.request.principalEntity).toBe(first.request.principalEntity)
      expect(Object.isFrozen(first.request.principalEntity.attrs)).toBe(true)
      expect(set.decide(again.request)).toMatchObject({ decision: 'allow' })
      // Another tenant's view of the same claims is another principal (its tenant attribute).
      const other = buildCedarRequest(facts({ claims, issuerTenant: 'acme' }))
      if (!other.ok) throw new Error('not built')
      expect(other.request.principalEntity).not.toBe(first.request.principalEntity)
      expect(other.request.principalEntity.attrs.tenant).toBe('acme')
      // Claims that may still change are built afresh every time.
      const open = { ...userClaims(), roles: ['editor'] }
      const a = buildCedarRequest(facts({ claims: open }))
      open.roles.push('admin')
      const b = buildCedarRequest(facts({ claims: open }))
      if (!a.ok || !b.ok) throw new Error('not built')
      expect(b.request.principalEntity.attrs.roles).toEqual(['editor', 'admin'])
    })

    it('Cedar sends only the attributes and members the policies test: the rest share a decision', () => {
      const cached = compileExample()
      const read = (claims: Record<string, unknown>) => decideOn(cached, { claims })
      expect(read(userClaims({ amr: ['pwd'] }))).toMatchObject({ decision: 'allow', cached: false })
      // No read policy reads amr or roles: a token that differs only there is the same request.
      expect(read(userClaims({ amr: ['pwd', 'mfa'], roles: ['x'] })).cached).toBe(true)
      // suspended-users tests groups for "suspended" only: another group is the same request ...
      expect(read(userClaims({ groups: ['staff'] })).cached).toBe(true)
      // ... and "suspended" is a new one.
      expect(read(userClaims({ groups: ['staff', 'suspended'] }))).toMatchObject({
        decision: 'deny',
        cached: false,
      })
    })

    it('Cedar decision cache keys on the context attributes the policies read', () => {
      const timed = compileExample([
        {
          name: 'office-hours.cedar',
          text: `@id("until-t0") permit (principal, action, resource) when { context.time < ${T0 + 60} };`,
        },
      ])
      expect(decideOn(timed)).toMatchObject({ decision: 'allow', cached: false })
      expect(decideOn(timed)).toMatchObject({ decision: 'allow', cached: true })
      // A minute later the cached allow is not served: time is part of the key.
      expect(decideOn(timed, { nowMs: (T0 + 60) * 1000 })).toMatchObject({
        decision: 'deny',
        cached: false,
      })
      // The example set never reads context.time: a later second still hits.
      const plain = compileExample()
      decideOn(plain)
      expect(decideOn(plain, { nowMs: (T0 + 3600) * 1000 }).cached).toBe(true)
    })

    it(
      'Cedar fuzzed claims of unexpected types never crash a decision',
      () => {
        const anyValue = fc.oneof(
          fc.anything({ maxDepth: 3, withNullPrototype: true, withBigInt: false }),
          fc.string(),
          fc.array(fc.oneof(fc.string(), fc.integer(), fc.object())),
          fc.constantFrom(NaN, Infinity, -0, '', '__proto__', {
            __entity: { type: 'User', id: 'root' },
          }),
        )
        const claimNames = [
          'sub',
          'client_id',
          'scope',
          'scp',
          'roles',
          'groups',
          'amr',
          'tenant',
          'cnf',
        ]
        fc.assert(
          fc.property(
            fc.dictionary(fc.constantFrom(...claimNames), anyValue),
            fc.dictionary(fc.string(), anyValue, { maxKeys: 5 }),
            fc.constantFrom(READ, WRITE, REPORT),
            fc.option(fc.string(), { nil: undefined }),
            (known, unknown, action, clientIp) => {
              const claims = { ...unknown, ...userClaims(), ...known }
              const built = buildCedarRequest(facts({ claims, action, clientIp }))
              if (!built.ok) {
                expect(['principal_unknown', 'claims_out_of_bounds']).toContain(built.reason)
                return
              }
              const decision = set.decide(built.request)
              expect(['allow', 'deny']).toContain(decision.decision)
              expect(decision.errors).not.toContain('engine')
              // An entity smuggled in through a claim is only ever a string to Cedar.
              expect(JSON.stringify(built.request.principalEntity)).not.toContain('"__entity":{')
            },
          ),
          { numRuns: 200 },
        )
      },
      PROPERTY_TIMEOUT_MS,
    )

    it('Cedar refuses claims past the bounds instead of cutting them', () => {
      const many = Array.from({ length: 300 }, (_, i) => `g${i}`)
      expect(buildCedarRequest(facts({ claims: userClaims({ groups: many }) }))).toEqual({
        ok: false,
        reason: 'claims_out_of_bounds',
      })
      const long = 'x'.repeat(2000)
      expect(buildCedarRequest(facts({ claims: userClaims({ sub: long }) })).ok).toBe(false)
      expect(buildCedarRequest(facts({ claims: userClaims({ sub: 42 }) }))).toEqual({
        ok: false,
        reason: 'principal_unknown',
      })
    })
  })

  describe(`Cedar policy sets in L2 (${runtime})`, () => {
    const publish = (
      store: Store,
      tenant = 'default',
      files = exampleFiles,
      schema = exampleSchema,
    ) =>
      publishPolicySet(store, engine(), {
        tenant,
        schema,
        sources: files,
        now: () => T0 * 1000,
      })

    function edge(store: Store, clock = { t: T0 * 1000 }, logs: LogRecord[] = []) {
      const sets = createPolicySets({
        store,
        engine,
        refreshSeconds: 10,
        now: () => clock.t,
        logger: { log: (r) => logs.push(r) },
      })
      // Background refreshes are handed to waitUntil, as on Workers; settle() waits for them.
      const pending: Promise<unknown>[] = []
      return {
        sets,
        clock,
        logs,
        decide: (over: Partial<RequestFacts> = {}) =>
          decide(sets, facts(over), (p) => pending.push(p)),
        settle: () => Promise.all(pending.splice(0)),
      }
    }

    it('Cedar publish writes a version and the edge puts it in force', async () => {
      const store = createMemoryStore()
      const result = await publish(store)
      expect(result).toMatchObject({ ok: true, tenant: 'default', version: 1 })
      expect(result.ok && result.policies).toContain('documents-read-users')
      const { decide: d, logs } = edge(store)
      expect(await d()).toMatchObject({
        decision: 'allow',
        reason: 'policy',
        version: 1,
        policies: ['documents-read-users'],
        principal: 'User::"alice"',
      })
      expect(logs).toContainEqual(
        expect.objectContaining({ msg: 'policy set in force', tenant: 'default', version: 1 }),
      )
    })

    it('Cedar refuses a schema-invalid publish and keeps the old set in force', async () => {
      const store = createMemoryStore()
      await publish(store)
      const e = edge(store)
      expect((await e.decide()).version).toBe(1)
      const typo = [
        {
          name: 'bad.cedar',
          text: 'permit (principal, action, resource) when { principal.rolez.contains("x") };',
        },
      ]
      const refused = await publish(store, 'default', typo)
      expect(refused.ok).toBe(false)
      expect(!refused.ok && refused.problems[0]).toMatchObject({
        where: 'bad.cedar:1',
        policy: 'policy0',
      })
      const unknownAction = [
        { name: 'x.cedar', text: 'permit (principal, action == Action::"GET /nope", resource);' },
      ]
      expect((await publish(store, 'default', unknownAction)).ok).toBe(false)
      expect((await readPolicySet(store, 'default'))?.version).toBe(1)
      e.clock.t += 11_000
      expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
    })

    it('Cedar refuses an unparsable policy and names its file and line', async () => {
      const store = createMemoryStore()
      const files = [
        {
          name: 'broken.cedar',
          text: '// one\n// two\npermit (principal, action, resource) when {',
        },
      ]
      const refused = await publish(store, 'default', files)
      expect(refused.ok).toBe(false)
      expect(!refused.ok && refused.problems[0]?.where).toBe('broken.cedar:3')
      expect(await store.get(policyHeadKey('default'))).toBeNull()
    })

    it('Cedar refuses duplicate policy ids and an unparsable schema', async () => {
      const store = createMemoryStore()
      const dup = [
        {
          name: 'd.cedar',
          text: '@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);',
        },
      ]
      const refused = await publish(store, 'default', dup)
      expect(!refused.ok && refused.problems).toEqual([
        { where: 'd.cedar:2', message: 'duplicate policy id "a"' },
      ])
      const badSchema = await publish(store, 'default', exampleFiles, 'entity User = {')
      expect(!badSchema.ok && badSchema.problems[0]?.where).toBe('schema')
      expect(await store.get(policyHeadKey('default'))).toBeNull()
    })

    it('Cedar refuses a Long literal its published JSON form cannot carry exactly', async () => {
      const store = createMemoryStore()
      // In the JSON form both literals are 2^53: published, this policy would permit everything.
      const rounded = [
        {
          name: 'l.cedar',
          text: '@id("big") permit (principal, action, resource) when { 9007199254740993 == 9007199254740992 };',
        },
      ]
      const refused = await publish(store, 'default', rounded)
      expect(!refused.ok && refused.problems).toEqual([
        {
          where: 'l.cedar:1',
          policy: 'big',
          message: 'a Long literal outside ±9007199254740991 is not supported',
        },
      ])
      expect(await store.get(policyHeadKey('default'))).toBeNull()
      const negative = [
        {
          name: 'n.cedar',
          text: 'permit (principal, action, resource) when { -9223372036854775808 < 0 };',
        },
      ]
      expect((await publish(store, 'default', negative)).ok).toBe(false)
      const exact = [
        {
          name: 'e.cedar',
          text: '@id("edge") permit (principal, action, resource) when { 9007199254740991 > 0 };',
        },
      ]
      expect((await publish(store, 'default', exact)).ok).toBe(true)
    })

    it('Cedar policy sets are per tenant: one tenant never decides with another one’s set', async () => {
      const store = createMemoryStore()
      const allowAll = [
        { name: 'all.cedar', text: '@id("everything") permit (principal, action, resource);' },
      ]
      await publish(store, 'acme', allowAll)
      await publish(store, 'globex')
      const e = edge(store)
      const report = { action: REPORT, resource: { type: 'Report', id: 'q3' } }
      expect(await e.decide({ ...report, tenant: 'acme' })).toMatchObject({
        decision: 'allow',
        policies: ['everything'],
      })
      expect(await e.decide({ ...report, tenant: 'globex' })).toMatchObject({
        decision: 'deny',
        version: 1,
      })
      expect(await e.decide({ ...report, tenant: 'default' })).toMatchObject({
        decision: 'deny',
        reason: 'no_policy_set',
      })
      // A new version for one tenant leaves the other's version alone.
      await publish(store, 'acme', allowAll)
      e.clock.t += 11_000
      await e.decide({ ...report, tenant: 'acme' })
      await e.settle()
      expect(e.sets.status()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ tenant: 'acme', version: 2 }),
          expect.objectContaining({ tenant: 'globex', version: 1 }),
        ]),
      )
    })

    it('Cedar keeps the last valid set in force while L2 is away', async () => {
      const l2 = interruptible(createMemoryStore())
      await publish(l2.store)
      const e = edge(l2.store)
      expect((await e.decide()).decision).toBe('allow')
      l2.down = true
      for (let i = 0; i < 3; i++) {
        e.clock.t += 11_000
        expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
      }
      // The refresh runs in the background; once it has failed, the set is still in force.
      await e.settle()
      expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
      expect(e.logs).toContainEqual(
        expect.objectContaining({ msg: 'policy L2 read failed; last valid set stays', version: 1 }),
      )
    })

    it('Cedar denies when no set is published (fail closed)', async () => {
      const e = edge(createMemoryStore())
      for (const over of [{}, { claims: userClaims({ roles: ['admin'] }) }]) {
        expect(await e.decide(over)).toMatchObject({
          decision: 'deny',
          reason: 'no_policy_set',
          version: null,
        })
      }
    })

    it('Cedar answers unavailable while L2 was never reachable, then loads the set', async () => {
      const l2 = interruptible(createMemoryStore())
      await publish(l2.store)
      l2.down = true
      const e = edge(l2.store)
      expect(await e.decide()).toMatchObject({
        decision: 'deny',
        reason: 'policy_store_unavailable',
      })
      l2.down = false
      // Within the retry wait the answer stands without another read ...
      expect((await e.decide()).reason).toBe('policy_store_unavailable')
      // ... after it, L2 is read again.
      e.clock.t += 1000
      expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
    })

    it('Cedar puts a new version in force after the refresh interval (fake clock)', async () => {
      const store = createMemoryStore()
      await publish(store)
      const e = edge(store)
      const report = { action: REPORT, resource: { type: 'Report', id: 'q3' } }
      expect((await e.decide(report)).decision).toBe('deny')
      const open = [
        { name: 'open.cedar', text: '@id("open") permit (principal, action, resource);' },
      ]
      expect(await publish(store, 'default', open)).toMatchObject({ ok: true, version: 2 })
      e.clock.t += 9_000
      expect(await e.decide(report)).toMatchObject({ decision: 'deny', version: 1 })
      e.clock.t += 1_000
      // This request notices and refreshes; the swap is in force by the next one.
      await e.decide(report)
      await e.settle()
      expect(await e.decide(report)).toMatchObject({
        decision: 'allow',
        version: 2,
        policies: ['open'],
      })
    })

    it('Cedar keeps the last valid set when L2 holds a corrupted document or head', async () => {
      const store = createMemoryStore()
      await publish(store)
      const e = edge(store)
      expect((await e.decide()).version).toBe(1)
      await publish(store)
      const head = JSON.parse((await store.get(policyHeadKey('default'))) as string)
      const good = await store.get(head.key)
      await store.set(head.key, '{"format":1,"tenant":"default"')
      e.clock.t += 11_000
      await e.decide()
      await e.settle()
      expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
      // Well-formed JSON of the right shape whose policy the engine refuses.
      const bogus = JSON.parse(good ?? '{}')
      await store.set(
        head.key,
        JSON.stringify({
          format: 1,
          tenant: 'default',
          version: 2,
          publishedAt: new Date(T0 * 1000).toISOString(),
          schema: bogus.schema ?? {},
          policies: { 'allow-all': { effect: 'maybe', principal: { op: 'All' } } },
        }),
      )
      e.clock.t += 11_000
      await e.decide()
      await e.settle()
      expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
      await store.set(policyHeadKey('default'), 'garbage')
      e.clock.t += 11_000
      await e.decide()
      await e.settle()
      expect(await e.decide()).toMatchObject({ decision: 'allow', version: 1 })
      expect(e.logs.filter((l) => l.level === 'error')).toHaveLength(3)
      await expect(publish(store)).rejects.toThrow(PolicyStoreError)
    })

    it('Cedar publishes atomically: concurrent publishes get one version each', async () => {
      const store = createMemoryStore()
      const results = await Promise.all([publish(store), publish(store), publish(store)])
      const versions = results.map((r) => (r.ok ? r.version : 0)).sort()
      expect(versions).toEqual([1, 2, 3])
      expect((await readPolicySet(store, 'default'))?.version).toBe(3)
      for (const v of [1, 2]) expect((await readPolicySet(store, 'default', v))?.version).toBe(v)
    })

    it('Cedar publish with an expected version refuses when another version is in force', async () => {
      const store = createMemoryStore()
      const first = await publishPolicySet(store, engine(), {
        tenant: 'default',
        schema: exampleSchema,
        sources: exampleFiles,
        expectedVersion: 0,
      })
      expect(first).toMatchObject({ ok: true, version: 1 })
      await expect(
        publishPolicySet(store, engine(), {
          tenant: 'default',
          schema: exampleSchema,
          sources: exampleFiles,
          expectedVersion: 0,
        }),
      ).rejects.toMatchObject({ code: 'version_conflict' })
      expect((await readPolicySet(store, 'default'))?.version).toBe(1)
    })

    it('Cedar keeps the last ten versions readable and deletes older documents', async () => {
      const store = createMemoryStore()
      const keys: string[] = []
      for (let i = 0; i < 12; i++) {
        await publish(store)
        keys.push(JSON.parse((await store.get(policyHeadKey('default'))) as string).key)
      }
      expect(await readPolicySet(store, 'default', 1)).toBeUndefined()
      expect(await store.get(keys[0] as string)).toBeNull()
      expect((await readPolicySet(store, 'default', 2))?.version).toBe(2)
      expect((await readPolicySet(store, 'default'))?.version).toBe(12)
    })
  })

  describe(`Cedar authorize middleware (${runtime})`, () => {
    const verify = requireAuth({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwks: publicJwks() })

    async function appWith(store: Store, loads = { count: 0 }) {
      const logs: LogRecord[] = []
      const policySets = createPolicySets({
        store,
        engine: () => {
          loads.count++
          return engine()
        },
      })
      const logger = { log: (r: LogRecord) => logs.push(r) }
      const app = new Hono()
      app.get('/open', verify, (c) => c.text('no policy here'))
      app.get(
        '/documents/:id',
        verify,
        authorize({ policySets, resource: { type: 'Document', param: 'id' }, logger }),
        (c) => c.json({ id: c.req.param('id') }),
      )
      app.get(
        '/admin/report',
        verify,
        authorize({
          policySets,
          resource: { type: 'Report', id: 'q3' },
          logger,
          clientIp: (c) => c.req.header('cf-connecting-ip'),
        }),
        (c) => c.text('report'),
      )
      return { app, logs, loads }
    }

    const get = async (
      app: Hono,
      path: string,
      claims: Record<string, unknown> = {},
      ip?: string,
    ) =>
      app.request(path, {
        headers: {
          Authorization: `Bearer ${await signTestToken({ sub: 'alice', ...claims })}`,
          ...(ip ? { 'cf-connecting-ip': ip } : {}),
        },
      })

    it('Cedar authorize passes an allowed request to the handler', async () => {
      const store = createMemoryStore()
      await publishExamples(store, engine())
      const { app, logs } = await appWith(store)
      const res = await get(app, '/documents/7')
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ id: '7' })
      expect(logs).toContainEqual(
        expect.objectContaining({
          msg: 'policy decision',
          decision: 'allow',
          action: 'GET /documents/:id',
          resource: 'Document::"7"',
          principal: 'User::"alice"',
          policies: ['documents-read-users'],
        }),
      )
    })

    it('Cedar authorize answers 403 access_denied with the request id and logs no token', async () => {
      const store = createMemoryStore()
      await publishExamples(store, engine())
      const { app, logs } = await appWith(store)
      const token = await signTestToken({ sub: 'alice', roles: ['admin'] })
      const res = await app.request('/admin/report', {
        headers: { Authorization: `Bearer ${token}`, 'cf-connecting-ip': '198.51.100.7' },
      })
      expect(res.status).toBe(403)
      expect(res.headers.get('Cache-Control')).toBe('no-store')
      const body = (await res.json()) as Record<string, string>
      expect(body).toMatchObject({ error: 'access_denied' })
      expect(body.request_id).toBe(res.headers.get('X-Request-Id'))
      const line = logs.find((l) => l.msg === 'policy decision')
      expect(line).toMatchObject({
        decision: 'deny',
        policies: ['admin-report-private-network'],
        requestId: body.request_id,
      })
      expect(JSON.stringify(logs)).not.toContain(token.split('.')[1])
      // From a private address the same token is let through.
      expect((await get(app, '/admin/report', { roles: ['admin'] }, '10.0.0.5')).status).toBe(200)
    })

    it('Cedar authorize answers 503 while L2 is away and no set was loaded; 403 with none', async () => {
      const l2 = interruptible(createMemoryStore())
      l2.down = true
      const { app } = await appWith(l2.store)
      const res = await get(app, '/documents/7')
      expect(res.status).toBe(503)
      expect(res.headers.get('Retry-After')).toBe('1')
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
      const { app: empty } = await appWith(createMemoryStore())
      expect((await get(empty, '/documents/7')).status).toBe(403)
    })

    it('Cedar engine is never loaded for routes without policy or tenants without a set', async () => {
      const store = createMemoryStore()
      const { app, loads } = await appWith(store)
      expect((await get(app, '/open')).status).toBe(200)
      expect((await get(app, '/documents/1')).status).toBe(403)
      expect(loads.count).toBe(0)
      await publishExamples(store, engine())
      const { app: withSet, loads: loaded } = await appWith(store)
      expect((await get(withSet, '/documents/1')).status).toBe(200)
      expect(loaded.count).toBe(1)
    })

    it('Cedar authorize decides with the set of the tenant whose issuer verified the token', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      await publishExamples(f.memory, engine(), 'acme')
      const policySets = createPolicySets({ store: f.memory, engine, now: f.clock })
      const byIssuer = requireAuth({ verifier: f.verifier })
      const resource = { type: 'Document', param: 'id' }
      const app = new Hono()
      app.get('/documents/:id', byIssuer, authorize({ policySets, resource }), (c) => c.text('doc'))
      app.get(
        '/acme/:id',
        byIssuer,
        authorize({ policySets, resource, tenant: 'acme', action: READ }),
        (c) => c.text('acme doc'),
      )
      const as = async (tenant: string, path: string) => {
        const res = await app.request(path, {
          headers: { Authorization: `Bearer ${await f.sign(tenant, { sub: 'alice' })}` },
        })
        return [res.status, (await res.text()).includes('access_denied') ? 'denied' : 'ok']
      }
      expect(await as('acme', '/documents/1')).toEqual([200, 'ok'])
      // globex verified the token and has no set: denied, acme's set is never consulted.
      expect(await as('globex', '/documents/1')).toEqual([403, 'denied'])
      expect(await as('acme', '/acme/1')).toEqual([200, 'ok'])
      expect(await as('globex', '/acme/1')).toEqual([403, 'denied'])
      expect(policySets.status().map((t) => [t.tenant, t.version])).toEqual([
        ['acme', 1],
        ['globex', null],
      ])
    })

    it('Cedar authorize fails closed (500) when mounted before verification', async () => {
      const app = new Hono()
      const policySets = createPolicySets({ store: createMemoryStore(), engine })
      const errors: string[] = []
      app.onError((err, c) => {
        errors.push(err.message)
        return c.text('server error', 500)
      })
      app.get('/x', authorize({ policySets }), (c) => c.text('never'))
      const res = await app.request('/x')
      expect(res.status).toBe(500)
      expect(errors).toEqual([
        'authorize() ran before the token was verified: mount requireAuth first',
      ])
      expect(() =>
        authorize({ policySets, resource: { type: 'not a type', param: 'id' } }),
      ).toThrow(TypeError)
    })

    it('Cedar route table decides gateway routes: allowed, denied, unmatched', async () => {
      const store = createMemoryStore()
      await publishExamples(store, engine())
      const policySets = createPolicySets({ store, engine })
      const parsed = parsePolicyRoutes(
        JSON.stringify({
          unmatched: 'deny',
          routes: [
            { method: 'GET', path: '/documents/:id', resource: { type: 'Document', param: 'id' } },
            { method: 'PUT', path: '/documents/:id', resource: { type: 'Document', param: 'id' } },
            { method: 'GET', path: '/admin/report', resource: { type: 'Report', id: 'q3' } },
          ],
        }),
      )
      if (!parsed.ok) throw new Error(parsed.message)
      const app = new Hono()
      app.use('/api/*', verify)
      mountPolicyRoutes(app, '/api', { table: parsed.table, policySets })
      app.all('/api/*', (c) => c.text(`forwarded ${c.req.method} ${c.req.path}`))
      expect((await get(app, '/api/documents/1')).status).toBe(200)
      const head = await app.request('/api/documents/1', {
        method: 'HEAD',
        headers: { Authorization: `Bearer ${await signTestToken({ sub: 'alice' })}` },
      })
      expect(head.status).toBe(200)
      const put = await app.request('/api/documents/1', {
        method: 'PUT',
        headers: { Authorization: `Bearer ${await signTestToken({ sub: 'alice' })}` },
      })
      expect(put.status).toBe(403)
      expect((await get(app, '/api/admin/report')).status).toBe(403)
      const unmatched = await get(app, '/api/other')
      expect(unmatched.status).toBe(403)
      expect(await unmatched.json()).toMatchObject({
        error_description: 'no policy route matches this request',
      })
      expect(
        parsePolicyRoutes(
          '{"routes":[{"method":"GET","path":"/x","resource":{"type":"D","param":"id"}}]}',
        ),
      ).toEqual({
        ok: false,
        message: 'routes.0.resource: resource.param must name a path parameter of path',
      })
    })
  })
}
