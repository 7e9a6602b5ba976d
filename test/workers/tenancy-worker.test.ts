/**
 * Tenancy on the real Worker (src/entry/worker.ts inside workerd, `GATEHOUSE_TENANCY=true`), its L2 a
 * real redis-server behind the Upstash REST bridge (test/support/workers-l2.ts); the origin is down,
 * or (custom hosts) one that echoes what reached it (tenancy-origin.ts). Tenants are added to the
 * registry in L2 and their key sets published in their namespaces, as the tenant admin API and each
 * tenant's origin key lifecycle do. Each case deploys its own default issuer and tenant ids, so it
 * starts on a cold isolate and shares nothing with the others.
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
import type { EchoedRequest } from './tenancy-origin.ts'

const l2 = inject('workersL2')
const store = createUpstashStore({ url: l2.url, token: l2.token })
const registry = createTenantRegistry({ store })

/**
 * A new deployment: its own default issuer (a cold build) and two tenants of it, A and B: path-based
 * (`{issuer}/t/{id}`), or `hosted` on custom hosts with an issuer path (`https://auth.{id}.test/oauth`).
 */
async function deploy(options: { hosted?: boolean; originUrl?: string } = {}) {
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
  const hostOf = (id: string) => `auth.${id}.test`
  const issuerOf = (id: string) =>
    options.hosted ? `https://${hostOf(id)}/oauth` : `${issuer}/t/${id}`
  const audienceOf = (id: string) => `https://api.${id}.test`
  for (const [id, kid] of [
    [tenants.a, 'shared-kid'],
    [tenants.b, 'shared-kid'],
  ] as const) {
    const key = await tenantKey(kid)
    keys.set(id, key)
    await registry.add({
      id,
      issuer: issuerOf(id),
      audiences: [audienceOf(id)],
      ...(options.hosted ? { hosts: [hostOf(id)] } : {}),
    })
    await scopeStore(store, id).set(
      keySetStoreKeys(issuerOf(id)).document,
      tenantKeySetDocument(issuerOf(id), [key], Date.now()),
    )
  }
  const env = {
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
    GATEHOUSE_JWKS_URL: `${l2.deadOriginUrl}/.well-known/jwks.json`,
    GATEHOUSE_ORIGIN_URL: options.originUrl ?? l2.deadOriginUrl,
    GATEHOUSE_ORIGIN_TIMEOUT_MS: '1000',
    GATEHOUSE_TENANCY: 'true',
    GATEHOUSE_REVOCATION_SYNC_SECONDS: '1',
    UPSTASH_REDIS_REST_URL: l2.url,
    UPSTASH_REDIS_REST_TOKEN: l2.token,
    GATEHOUSE_LOG_LEVEL: 'silent',
  }
  /** A request to the edge, sent to `host` (a Worker sees it as the request URL's host). */
  const call = async (path: string, init: RequestInit = {}, host = 'edge.test') => {
    const ctx = createExecutionContext()
    const response = await worker.fetch(new Request(`https://${host}${path}`, init), env, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }
  const verify = (token: string, host?: string) =>
    call('/verify', { headers: { Authorization: `Bearer ${token}` } }, host)
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
  return { issuer, tenants, keys, hostOf, issuerOf, audienceOf, call, verify, sign }
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

describe('custom-host tenants on the Worker in workerd (real L2)', () => {
  const jwksXs = async (response: Response) =>
    ((await response.json()) as { keys: { x: string }[] }).keys.map((k) => k.x)

  it("serves a custom-host tenant's discovery and JWKS on its own host only, from its key set", async () => {
    const edge = await deploy({ hosted: true })
    const { a, b } = edge.tenants
    for (const id of [a, b]) {
      const jwks = await edge.call('/oauth/.well-known/jwks.json', {}, edge.hostOf(id))
      expect(jwks.status).toBe(200)
      expect(await jwksXs(jwks)).toEqual([edge.keys.get(id)!.publicJwk.x])
      for (const path of [
        '/oauth/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server/oauth',
      ]) {
        const discovery = await edge.call(path, {}, edge.hostOf(id))
        expect(discovery.status, path).toBe(200)
        expect(await discovery.json()).toMatchObject({ issuer: edge.issuerOf(id) })
      }
    }
    // A host no tenant registered describes no tenant, nor does the default issuer's edge host.
    const stranger = await edge.call('/oauth/.well-known/jwks.json', {}, 'auth.stranger.test')
    expect(stranger.status).toBe(404)
    expect((await edge.call('/oauth/.well-known/jwks.json')).status).toBe(404)
    // The default issuer's documents on the edge's host are its own, not a tenant's.
    const own = await edge.call('/.well-known/openid-configuration')
    expect(await own.json()).toMatchObject({ issuer: edge.issuer })
    // A tenant's host describes no other issuer: not the default one, not another tenant.
    for (const path of ['/.well-known/openid-configuration', `/t/${b}/.well-known/jwks.json`])
      expect((await edge.call(path, {}, edge.hostOf(a))).status, path).toBe(404)
  })

  it("forwards a custom-host tenant's minting routes to the origin with its host; nothing for other hosts", async () => {
    const edge = await deploy({ hosted: true, originUrl: inject('tenancyEchoOrigin') })
    const { a } = edge.tenants
    const form = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }
    const token = await edge.call('/oauth/token', form, edge.hostOf(a))
    expect(token.status).toBe(200)
    expect((await token.json()) as EchoedRequest).toEqual({
      method: 'POST',
      path: '/oauth/token',
      forwardedHost: edge.hostOf(a),
      body: 'grant_type=client_credentials',
    })
    const authorize = await edge.call('/oauth/authorize?client_id=web', {}, edge.hostOf(a))
    expect((await authorize.json()) as EchoedRequest).toMatchObject({
      method: 'GET',
      path: '/oauth/authorize?client_id=web',
      forwardedHost: edge.hostOf(a),
    })
    const login = await edge.call('/oauth/login/password', form, edge.hostOf(a))
    expect(((await login.json()) as EchoedRequest).path).toBe('/oauth/login/password')
    // Not the tenant's issuer path, or not a registered host: not forwarded.
    expect((await edge.call('/elsewhere/token', form, edge.hostOf(a))).status).toBe(404)
    expect((await edge.call('/oauth/token', form, 'auth.stranger.test')).status).toBe(404)
    expect((await edge.call('/oauth/token', form)).status).toBe(404)
  })

  it('the Host never picks the tenant a token is verified for: its iss does', async () => {
    const edge = await deploy({ hosted: true })
    const { a, b } = edge.tenants
    // A's token sent to B's host is verified as A's (by its iss), with A's keys.
    const atB = await edge.verify(await edge.sign(a), edge.hostOf(b))
    expect(atB.status).toBe(200)
    expect(await atB.json()).toMatchObject({ iss: edge.issuerOf(a) })
    // B's iss signed with A's key, sent to A's host: B's keys decide, and refuse it.
    expect((await edge.verify(await edge.sign(b, {}, a), edge.hostOf(a))).status).toBe(401)
    // A's token for B's audience, at B's host: refused.
    const crossAudience = await edge.sign(a, { aud: edge.audienceOf(b) })
    expect((await edge.verify(crossAudience, edge.hostOf(b))).status).toBe(401)
  })

  it('a custom-host tenant removed from the registry is no longer described on its host within the bound', async () => {
    const edge = await deploy({ hosted: true })
    const { a, b } = edge.tenants
    const jwks = (id: string) => edge.call('/oauth/.well-known/jwks.json', {}, edge.hostOf(id))
    expect((await jwks(a)).status).toBe(200) // its context is built
    await registry.remove(a)
    await until(async () => (await jwks(a)).status === 404, 20_000, 'tenant host gone')
    expect((await jwks(b)).status).toBe(200)
  })
})
