/**
 * Edge availability on the real Worker (issue 12 item 3): src/entry/worker.ts inside workerd, its L2
 * a real redis-server behind the Upstash REST bridge (test/workers/global-l2.ts) with a fault proxy
 * in between, and an origin that is down (nothing listens at GATEHOUSE_ORIGIN_URL or the JWKS URL).
 * Each case deploys a new issuer, and the Worker builds a new app per configuration, so a case
 * starts as a cold isolate. Time is faked (Date only) where a case needs the key set to age.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import worker from '../../src/entry/worker.ts'
import { keySetStoreKeys } from '../../src/core/published-key-set.ts'
import { createUpstashStore } from '../../src/store/upstash.ts'
import { signTestToken, TEST_AUDIENCE } from '../fixtures/keys.ts'
import { fixtureKeySet, fixtureRecord } from '../support/key-set.ts'

const l2 = inject('workersL2')
const store = createUpstashStore({ url: l2.url, token: l2.token })
const setL2 = async (mode: 'pass' | 'refuse') => {
  const res = await fetch(`${l2.controlUrl}/l2/${mode}`, { method: 'POST' })
  expect(res.status).toBe(204)
}

afterEach(async () => {
  vi.useRealTimers()
  await setL2('pass')
})

/** A new deployment of the edge: its own issuer (so a cold build), L2 configured, origin down. */
async function deploy(options: { published?: boolean; env?: Record<string, string> } = {}) {
  const issuer = `https://issuer-${crypto.randomUUID()}.test`
  if (options.published ?? true)
    await store.set(
      keySetStoreKeys(issuer).document,
      fixtureKeySet(
        [fixtureRecord('ES256'), fixtureRecord('EdDSA', { publishAt: 1, activateAt: 1 })],
        {
          issuer,
          discovery: { issuer, jwks_uri: `${issuer}/.well-known/jwks.json` },
        },
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
  const call = async (path: string, token?: string) => {
    const ctx = createExecutionContext()
    const response = await worker.fetch(
      new Request(`https://edge.test${path}`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      }),
      env,
      ctx,
    )
    await waitOnExecutionContext(ctx)
    return response
  }
  const token = (alg: 'ES256' | 'EdDSA' = 'ES256') =>
    signTestToken({ iss: issuer }, { alg, now: Math.floor(Date.now() / 1000) })
  const status = async () =>
    (await call('/revocation/status')).json<{
      policy: string
      stale: boolean
      lastError: string | null
      keys: Record<string, unknown>
    }>()
  const metrics = async () => (await call('/metrics')).text()
  return { issuer, call, token, status, metrics }
}

describe('edge availability (the Worker in workerd, real L2)', () => {
  it('origin down, cold isolate: verifies with the key set from L2, serves JWKS and discovery', async () => {
    const edge = await deploy()
    const verified = await edge.call('/verify', await edge.token())
    expect(verified.status).toBe(200)
    expect(await verified.json()).toMatchObject({ active: true, iss: edge.issuer })
    expect((await edge.call('/verify', await edge.token('EdDSA'))).status).toBe(200)

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

  it('L2 down, warm isolate: verifies with its cached keys and says so in status and metrics', async () => {
    const edge = await deploy()
    const token = await edge.token()
    expect((await edge.call('/verify', token)).status).toBe(200)
    await setL2('refuse')
    // Past the key set's refresh (60 s) and the revocation filter's staleness limit (30 s).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 })
    // A token not in L1 yet, so its key is looked up: the copy is old, L2 cannot be read.
    const during = await edge.call('/verify', await edge.token())
    expect(during.status).toBe(200)
    const status = await edge.status()
    expect(status.keys).toMatchObject({ source: 'l2', stale: true, lastError: 'unreachable' })
    expect(status).toMatchObject({ policy: 'open', stale: true })
    expect(status.lastError).not.toBeNull()
    const metrics = await edge.metrics()
    expect(metrics).toContain('gatehouse_keys_source{source="l2"} 1')
    expect(metrics).toContain('gatehouse_keys_stale 1')
    expect(metrics).toContain('gatehouse_revocation_policy{policy="open"} 1')
    expect(metrics).toContain('gatehouse_revocation_stale 1')
  })

  it('L2 and origin down, cold isolate: a 503 with Retry-After, never a 500 or an acceptance', async () => {
    const edge = await deploy()
    const token = await edge.token()
    await setL2('refuse')
    const refused = await edge.call('/verify', token)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await refused.json()).toMatchObject({ error: 'server_error' })
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration']) {
      const res = await edge.call(path)
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
    }
    expect((await edge.status()).keys).toMatchObject({ source: null, stale: true })
  })

  it('a fail-closed deployment: L2 down past the staleness limit refuses tokens, and says why', async () => {
    const edge = await deploy({ env: { GATEHOUSE_REVOCATION_POLICY: 'closed' } })
    const token = await edge.token()
    expect((await edge.call('/verify', token)).status).toBe(200)
    await setL2('refuse')
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 })
    const refused = await edge.call('/verify', token)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(await edge.status()).toMatchObject({ policy: 'closed', stale: true })
    expect(await edge.metrics()).toContain('gatehouse_revocation_policy{policy="closed"} 1')
  })

  it('with nothing in L2 for its issuer, it falls back to the origin, and says so', async () => {
    const edge = await deploy({ published: false, env: { GATEHOUSE_JWKS_URL: inject('jwksUrl') } })
    expect((await edge.call('/verify', await edge.token())).status).toBe(200)
    expect((await edge.status()).keys).toMatchObject({ source: 'origin', stale: false })
    const down = await deploy({ published: false })
    expect((await down.call('/verify', await down.token())).status).toBe(503)
    expect((await down.status()).keys).toMatchObject({ source: null })
  })
})
