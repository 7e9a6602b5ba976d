/**
 * Tenancy on the real Worker (src/entry/worker.ts inside workerd, `GATEHOUSE_TENANCY=true`), its L2 a
 * real redis-server behind the Upstash REST bridge (test/support/workers-l2.ts); the origin is down.
 * Tenants are added to the registry in L2 and their key sets published in their namespaces, as the
 * tenant admin API and each tenant's origin key lifecycle do. Each case deploys its own default
 * issuer and tenant ids, so it starts on a cold isolate and shares nothing with the others.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import worker from '../../src/entry/worker.ts'
import { keySetStoreKeys } from '../../src/core/published-key-set.ts'
import { createUpstashStore } from '../../src/store/upstash.ts'
import { createTenantRegistry } from '../../src/tenancy/registry.ts'
import { scopeStore } from '../../src/tenancy/scoped-store.ts'
import { signTestToken, TEST_AUDIENCE } from '../fixtures/keys.ts'
import { fixtureKeySet, fixtureRecord } from '../support/key-set.ts'
import { tenantKey, tenantKeySetDocument, type TenantKey } from '../shared/tenancy-fixture.ts'
import { SignJWT, type JWTPayload } from 'jose'
import { until } from '../support/poll.ts'

const l2 = inject('workersL2')
const store = createUpstashStore({ url: l2.url, token: l2.token })
const registry = createTenantRegistry({ store })

/** A new deployment: its own default issuer (a cold build) and two tenants of it, A and B. */
async function deploy() {
  const run = crypto.randomUUID().slice(0, 8)
  const issuer = `https://issuer-${run}.test`
  await store.set(
    keySetStoreKeys(issuer).document,
    fixtureKeySet([fixtureRecord('ES256')], {
      issuer,
      discovery: { issuer, jwks_uri: `${issuer}/.well-known/jwks.json` },
    }),
  )
  const tenants = { a: `a-${run}`, b: `b-${run}` }
  const keys = new Map<string, TenantKey>()
  const issuerOf = (id: string) => `${issuer}/t/${id}`
  const audienceOf = (id: string) => `https://api.${id}.test`
  for (const [id, kid] of [
    [tenants.a, 'shared-kid'],
    [tenants.b, 'shared-kid'],
  ] as const) {
    const key = await tenantKey(kid)
    keys.set(id, key)
    await registry.add({ id, issuer: issuerOf(id), audiences: [audienceOf(id)] })
    await scopeStore(store, id).set(
      keySetStoreKeys(issuerOf(id)).document,
      tenantKeySetDocument(issuerOf(id), [key], Date.now()),
    )
  }
  const env = {
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
    GATEHOUSE_JWKS_URL: `${l2.deadOriginUrl}/.well-known/jwks.json`,
    GATEHOUSE_ORIGIN_URL: l2.deadOriginUrl,
    GATEHOUSE_ORIGIN_TIMEOUT_MS: '1000',
    GATEHOUSE_TENANCY: 'true',
    GATEHOUSE_REVOCATION_SYNC_SECONDS: '1',
    UPSTASH_REDIS_REST_URL: l2.url,
    UPSTASH_REDIS_REST_TOKEN: l2.token,
    GATEHOUSE_LOG_LEVEL: 'silent',
  }
  const call = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext()
    const response = await worker.fetch(new Request(`https://edge.test${path}`, init), env, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }
  const verify = (token: string) =>
    call('/verify', { headers: { Authorization: `Bearer ${token}` } })
  /** A token as tenant `id`'s origin mints it; `signWith` another tenant's key (an attacker's). */
  const sign = (id: string, claims: JWTPayload = {}, signWith = id) => {
    const key = keys.get(signWith)!
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({
      iss: issuerOf(id),
      aud: audienceOf(id),
      sub: 'user-1',
      client_id: 'app',
      jti: crypto.randomUUID(),
      iat: now,
      exp: now + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
      .sign(key.privateKey)
  }
  return { issuer, tenants, keys, issuerOf, audienceOf, call, verify, sign }
}

describe('tenancy on the Worker in workerd (real L2)', () => {
  it("verifies each tenant's token with its own key set from L2, and the default issuer's unchanged", async () => {
    const edge = await deploy()
    for (const id of [edge.tenants.a, edge.tenants.b]) {
      const response = await edge.verify(await edge.sign(id))
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ iss: edge.issuerOf(id) })
    }
    const own = await edge.verify(await signTestToken({ iss: edge.issuer }))
    expect(own.status).toBe(200)
    expect(await own.json()).toMatchObject({ iss: edge.issuer })
  })

  it("refuses tenant A's key under tenant B's iss and kid, and A's token at B's audience", async () => {
    const edge = await deploy()
    const { a, b } = edge.tenants
    // Both tenants publish a key named shared-kid: B's iss picks B's set, whose key is not A's.
    const forged = await edge.sign(b, {}, a)
    expect((await edge.verify(forged)).status).toBe(401)
    const wrongAudience = await edge.sign(a, { aud: edge.audienceOf(b) })
    expect((await edge.verify(wrongAudience)).status).toBe(401)
    // The default issuer's key never signs for a tenant, nor a tenant's for the default issuer.
    const defaultKeyForA = await signTestToken({ iss: edge.issuerOf(a), aud: edge.audienceOf(a) })
    expect((await edge.verify(defaultKeyForA)).status).toBe(401)
    const aKeyForDefault = await edge.sign(a, { iss: edge.issuer, aud: TEST_AUDIENCE })
    expect((await edge.verify(aKeyForDefault)).status).toBe(401)
    // And A's own token still passes: the refusals were not an outage.
    expect((await edge.verify(await edge.sign(a))).status).toBe(200)
  })

  it("serves each tenant's discovery and JWKS from its key set in L2, and 404 for no tenant", async () => {
    const edge = await deploy()
    const { a, b } = edge.tenants
    const xs = async (id: string) => {
      const response = await edge.call(`/t/${id}/.well-known/jwks.json`)
      expect(response.status).toBe(200)
      return ((await response.json()) as { keys: { x: string }[] }).keys.map((k) => k.x)
    }
    expect(await xs(a)).toEqual([edge.keys.get(a)!.publicJwk.x])
    expect(await xs(b)).toEqual([edge.keys.get(b)!.publicJwk.x])
    for (const path of [
      `/t/${a}/.well-known/openid-configuration`,
      `/.well-known/oauth-authorization-server/t/${a}`,
    ]) {
      const discovery = await edge.call(path)
      expect(discovery.status).toBe(200)
      expect(await discovery.json()).toMatchObject({ issuer: edge.issuerOf(a) })
    }
    expect((await edge.call('/t/nobody-here/.well-known/jwks.json')).status).toBe(404)
    const own = await edge.call('/.well-known/openid-configuration')
    expect(await own.json()).toMatchObject({ issuer: edge.issuer })
  })

  it("forwards a path-based tenant's token endpoint to the origin (down here: 503, not 404)", async () => {
    const edge = await deploy()
    const response = await edge.call(`/t/${edge.tenants.a}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    })
    expect([502, 503, 504]).toContain(response.status)
  })

  it('a tenant removed from the registry stops verifying at the Worker within the bound', async () => {
    const edge = await deploy()
    const { a, b } = edge.tenants
    const token = await edge.sign(a)
    expect((await edge.verify(token)).status).toBe(200) // now in L1
    await registry.remove(a)
    await until(async () => (await edge.verify(token)).status === 401, 20_000, 'tenant gone')
    expect((await edge.verify(await edge.sign(b))).status).toBe(200)
  })
})
