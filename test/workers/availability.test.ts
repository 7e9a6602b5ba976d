/**
 * The edge's key set and metadata by what L2 holds, on the Worker in workerd (the vitest plugin),
 * with a real redis-server behind the Upstash bridge (test/support/workers-l2.ts) and an origin that
 * is down (nothing listens at GATEHOUSE_ORIGIN_URL). Each case deploys a new issuer, so the Worker
 * builds a new app. The fault cases (origin and/or L2 down, cold and warm isolates) run against
 * `workerd serve` with fault proxies: test/integration/keys/edge-availability.test.ts.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import worker from '../../src/entry/worker.ts'
import { keySetStoreKeys } from '../../src/core/published-key-set.ts'
import { createUpstashStore } from '../../src/store/upstash.ts'
import { signTestToken, TEST_AUDIENCE } from '../fixtures/keys.ts'
import { fixtureKeySet, fixtureRecord } from '../support/key-set.ts'

const l2 = inject('workersL2')
const store = createUpstashStore({ url: l2.url, token: l2.token })

/** A new deployment of the edge: its own issuer (so a cold build), L2 configured, origin down. */
async function deploy(options: { published?: boolean; env?: Record<string, string> } = {}) {
  const issuer = `https://issuer-${crypto.randomUUID()}.test`
  if (options.published ?? true)
    await store.set(
      keySetStoreKeys(issuer).document,
      fixtureKeySet(
        [fixtureRecord('ES256'), fixtureRecord('EdDSA', { publishAt: 1, activateAt: 1 })],
        { issuer, discovery: { issuer, jwks_uri: `${issuer}/.well-known/jwks.json` } },
      ),
    )
  const env = {
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
    GATEHOUSE_JWKS_URL: `${l2.deadOriginUrl}/.well-known/jwks.json`,
    GATEHOUSE_ORIGIN_URL: l2.deadOriginUrl,
    GATEHOUSE_ORIGIN_TIMEOUT_MS: '1000',
    GATEHOUSE_JWKS_TIMEOUT_MS: '1000',
    UPSTASH_REDIS_REST_URL: l2.url,
    UPSTASH_REDIS_REST_TOKEN: l2.token,
    GATEHOUSE_LOG_LEVEL: 'silent',
    ...options.env,
  }
  const call = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext()
    const response = await worker.fetch(new Request(`https://edge.test${path}`, init), env, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }
  const verify = (token: string) =>
    call('/verify', { headers: { Authorization: `Bearer ${token}` } })
  const token = (alg: 'ES256' | 'EdDSA' = 'ES256') =>
    signTestToken({ iss: issuer }, { alg, now: Math.floor(Date.now() / 1000) })
  const status = async () =>
    (await call('/revocation/status')).json<{ keys: Record<string, unknown> }>()
  return { issuer, call, verify, token, status }
}

describe('edge keys and metadata by what L2 holds (the Worker in workerd, real L2)', () => {
  it('a published set: verifies with it, serves JWKS and discovery from it, origin down', async () => {
    const edge = await deploy()
    const verified = await edge.verify(await edge.token())
    expect(verified.status).toBe(200)
    expect(await verified.json()).toMatchObject({ active: true, iss: edge.issuer })
    expect((await edge.verify(await edge.token('EdDSA'))).status).toBe(200)

    const jwks = await edge.call('/.well-known/jwks.json')
    expect(jwks.status).toBe(200)
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=300')
    const kids = (await jwks.json<{ keys: { kid: string }[] }>()).keys.map((k) => k.kid)
    expect(kids).toEqual(['test-es256', 'test-eddsa'])
    const discovery = await edge.call('/.well-known/openid-configuration')
    expect(await discovery.json()).toMatchObject({
      issuer: edge.issuer,
      id_token_signing_alg_values_supported: ['EdDSA'],
    })
    expect((await edge.status()).keys).toMatchObject({ source: 'l2', stale: false, version: 1 })
  })

  it('answers OPTIONS, and 405 with Allow to other methods, at the well-known paths', async () => {
    const edge = await deploy()
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration']) {
      const preflight = await edge.call(path, { method: 'OPTIONS' })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
      const post = await edge.call(path, { method: 'POST', body: 'x' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
    }
  })

  it('nothing in L2 for its issuer: verifies with the configured JWKS and says so; metadata 404', async () => {
    const edge = await deploy({ published: false, env: { GATEHOUSE_JWKS_URL: inject('jwksUrl') } })
    expect((await edge.verify(await edge.token())).status).toBe(200)
    expect((await edge.status()).keys).toMatchObject({ source: 'origin', stale: false })
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration']) {
      const missing = await edge.call(path)
      expect(missing.status).toBe(404)
      expect(await missing.json()).toMatchObject({ error: 'not_found' })
    }
    // And the configured JWKS is down too: a 503 to retry, never a 401 or a 500.
    const down = await deploy({ published: false })
    const refused = await down.verify(await down.token())
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect((await down.status()).keys).toMatchObject({ source: null })
  })
})
