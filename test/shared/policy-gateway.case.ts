/**
 * The gateway with Cedar routes as the entries build it: env → `parseVerificationConfig` →
 * `appFromConfig` (the app both runtimes serve), the example policies published to a memory L2, an
 * injected upstream fetch. Runs on Node and inside workerd.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseVerificationConfig } from '../../src/core/config.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import type { LogRecord } from '../../src/http/log.ts'
import type { CedarEngineLoader } from '../../src/policy/engine.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../fixtures/keys.ts'
import { publishExamples } from './policy-fixtures.ts'
import { tenancyFixture } from './tenancy-fixture.ts'

const ROUTES = {
  routes: [
    { method: 'GET', path: '/documents/:id', resource: { type: 'Document', param: 'id' } },
    { method: 'PUT', path: '/documents/:id', resource: { type: 'Document', param: 'id' } },
    { method: 'GET', path: '/admin/report', resource: { type: 'Report', id: 'q3' } },
  ],
}

const env = (extra: Record<string, unknown> = {}) => ({
  GATEHOUSE_ISSUER: TEST_ISSUER,
  GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
  GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
  GATEHOUSE_UPSTREAM_URL: 'https://upstream.test/v1',
  GATEHOUSE_POLICY_ROUTES: JSON.stringify(ROUTES),
  UPSTASH_REDIS_REST_URL: 'https://l2.test',
  UPSTASH_REDIS_REST_TOKEN: 'not-used-the-store-is-injected',
  GATEHOUSE_LOG_LEVEL: 'info',
  ...extra,
})

/** Globex's set: documents for its own staff only; the report for any globex user. */
const GLOBEX_POLICIES = [
  {
    name: 'globex.cedar',
    text: `@id("globex-staff-read")
permit (principal is User, action in Action::"read", resource is Document)
when { principal.tenant == "globex" && principal.roles.contains("staff") };

@id("globex-report")
permit (principal, action == Action::"GET /admin/report", resource)
when { principal.tenant == "globex" };`,
  },
]

export function definePolicyGatewaySuite({
  runtime,
  engine,
}: {
  runtime: string
  engine: CedarEngineLoader
}): void {
  async function start(store: Store = createMemoryStore()) {
    const forwarded: string[] = []
    const logs: LogRecord[] = []
    const app = await appFromConfig(parseVerificationConfig(env()), {
      role: 'edge',
      logger: { log: (r) => logs.push(r) },
      fetch: async (input, init) => {
        const request = new Request(input, init)
        forwarded.push(`${request.method} ${new URL(request.url).pathname}`)
        return new Response('from upstream', { status: 200 })
      },
      // The edge's default client address, cf-connecting-ip, becomes context.ip.
      policy: { engine, store },
    })
    const call = async (method: string, path: string, claims: Record<string, unknown> = {}) =>
      app.request(`http://edge.test${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${await signTestToken({ sub: 'alice', ...claims })}`,
          'cf-connecting-ip': '198.51.100.7',
        },
      })
    return { app, call, forwarded, logs }
  }

  describe(`Cedar on the gateway (${runtime})`, () => {
    it('Cedar gateway forwards what the policy allows and answers 403 for what it denies', async () => {
      const store = createMemoryStore()
      await publishExamples(store, engine())
      const { call, forwarded, logs } = await start(store)
      expect((await call('GET', '/api/documents/welcome')).status).toBe(200)
      const denied = await call('GET', '/api/admin/report', { roles: ['admin'] })
      expect(denied.status).toBe(403)
      expect(await denied.json()).toMatchObject({ error: 'access_denied' })
      const write = await call('PUT', '/api/documents/welcome', { scope: 'documents:write' })
      expect(write.status).toBe(403)
      // Outside the table: verified and forwarded, no decision.
      expect((await call('GET', '/api/hello')).status).toBe(200)
      expect(forwarded).toEqual(['GET /v1/documents/welcome', 'GET /v1/hello'])
      const decisions = logs.filter((l) => l.msg === 'policy decision')
      expect(decisions.map((l) => [l.action, l.decision, l.policies])).toEqual([
        ['GET /documents/:id', 'allow', ['documents-read-users']],
        ['GET /admin/report', 'deny', ['admin-report-private-network']],
        ['PUT /documents/:id', 'deny', ['documents-write-needs-dpop']],
      ])
    })

    it('Cedar gateway denies policy routes while no set is published, and reports it', async () => {
      const store = createMemoryStore()
      const { app, call, forwarded } = await start(store)
      expect((await call('GET', '/api/documents/welcome')).status).toBe(403)
      expect(forwarded).toEqual([])
      const status = await (await app.request('http://edge.test/policy/status')).json()
      expect(status).toEqual({
        enabled: true,
        tenants: [expect.objectContaining({ tenant: 'default', version: null })],
      })
      await publishExamples(store, engine())
      // Within the refresh interval the "none" answer stands; the next start picks the set up.
      const fresh = await start(store)
      expect((await fresh.call('GET', '/api/documents/welcome')).status).toBe(200)
      // The documents slice is in the compiled evaluator's subset: no engine call decided it.
      const after = await (await fresh.app.request('http://edge.test/policy/status')).json()
      expect((after as { tenants: unknown }).tenants).toEqual([
        expect.objectContaining({ version: 1, decidedBy: { evaluator: 1, engine: 0 } }),
      ])
    })

    /**
     * A multi-tenant edge (tenancy-fixture.ts: the registry, per-tenant keys in L2, the verifier that
     * picks the tenant from `iss`) with acme's and globex's sets published in their namespaces.
     */
    async function tenantEdge(routes: Record<string, unknown> = ROUTES) {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      await publishExamples(f.memory, engine(), 'acme')
      await publishExamples(f.memory, engine(), 'globex', GLOBEX_POLICIES)
      const logs: LogRecord[] = []
      const forwarded: string[] = []
      const app = await appFromConfig(
        parseVerificationConfig(env({ GATEHOUSE_POLICY_ROUTES: JSON.stringify(routes) })),
        {
          role: 'edge',
          logger: { log: (r) => logs.push(r) },
          now: f.clock,
          verifier: async () => f.verifier,
          fetch: async (input, init) => {
            const request = new Request(input, init)
            forwarded.push(`${request.method} ${new URL(request.url).pathname}`)
            return new Response('from upstream', { status: 200 })
          },
          policy: { engine, store: f.memory },
        },
      )
      const call = async (tenant: string, path: string, claims: Record<string, unknown> = {}) =>
        app.request(`http://edge.test${path}`, {
          headers: { Authorization: `Bearer ${await f.sign(tenant, { sub: 'alice', ...claims })}` },
        })
      const decisions = () =>
        logs
          .filter((l) => l.msg === 'policy decision')
          .map((l) => [l.tenant, l.decision, l.reason, l.policies])
      return { call, decisions, forwarded }
    }

    it('Cedar gateway decides with the policy set of the tenant that verified the token', async () => {
      const { call, decisions, forwarded } = await tenantEdge()
      expect((await call('acme', '/api/documents/welcome')).status).toBe(200)
      expect((await call('globex', '/api/documents/welcome')).status).toBe(403)
      expect((await call('globex', '/api/documents/welcome', { roles: ['staff'] })).status).toBe(
        200,
      )
      expect((await call('globex', '/api/admin/report')).status).toBe(200)
      expect((await call('acme', '/api/admin/report')).status).toBe(403)
      expect(forwarded).toEqual([
        'GET /v1/documents/welcome',
        'GET /v1/documents/welcome',
        'GET /v1/admin/report',
      ])
      expect(decisions()).toEqual([
        ['acme', 'allow', 'policy', ['documents-read-users']],
        ['globex', 'deny', 'policy', []],
        ['globex', 'allow', 'policy', ['globex-staff-read']],
        ['globex', 'allow', 'policy', ['globex-report']],
        ['acme', 'deny', 'policy', ['admin-report-private-network']],
      ])
    })

    it('Cedar takes principal.tenant from the verifying issuer, not from a tenant claim', async () => {
      const { call, decisions } = await tenantEdge()
      // A globex token claiming to be acme's is still globex's principal (its issuer says so).
      expect((await call('globex', '/api/admin/report', { tenant: 'acme' })).status).toBe(200)
      expect(decisions()).toEqual([['globex', 'allow', 'policy', ['globex-report']]])
    })

    it('Cedar route table fixed to one tenant denies another tenant’s token without deciding', async () => {
      const { call, decisions, forwarded } = await tenantEdge({ ...ROUTES, tenant: 'globex' })
      expect((await call('globex', '/api/admin/report')).status).toBe(200)
      const other = await call('acme', '/api/documents/welcome')
      expect(other.status).toBe(403)
      expect(await other.json()).toMatchObject({ error: 'access_denied' })
      expect(forwarded).toEqual(['GET /v1/admin/report'])
      expect(decisions()).toEqual([
        ['globex', 'allow', 'policy', ['globex-report']],
        ['globex', 'deny', 'tenant_mismatch', []],
      ])
    })

    it('Cedar routes need the engine: a runtime without it refuses the config', async () => {
      await expect(
        appFromConfig(parseVerificationConfig(env()), {
          role: 'edge',
          logger: { log: () => {} },
          policy: { store: createMemoryStore() },
        }),
      ).rejects.toMatchObject({ fields: ['GATEHOUSE_POLICY_ROUTES'] })
      expect(() => parseVerificationConfig(env({ GATEHOUSE_UPSTREAM_URL: '' }))).toThrow(
        ConfigError,
      )
      expect(() =>
        parseVerificationConfig(env({ GATEHOUSE_POLICY_ROUTES: '{"routes": "all"}' })),
      ).toThrow(/GATEHOUSE_POLICY_ROUTES: routes/)
    })
  })
}
