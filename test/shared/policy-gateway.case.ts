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
