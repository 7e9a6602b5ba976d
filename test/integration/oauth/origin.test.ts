/**
 * The origin as deployed: `createOriginRoutes(env)` from a JSON config file, mounted in `createApp`,
 * served over real HTTP by @hono/node-server, with the production Upstash adapter talking to a real
 * redis-server through the Upstash REST bridge. oauth4webapi drives it from discovery alone; the
 * rotation race and code replay run against Redis' own atomicity (Lua compare-and-swap).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import * as oauth from 'oauth4webapi'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keySetStoreKeys, parseKeySetDocument } from '../../../src/core/published-key-set.ts'
import { privateJwks } from '../../fixtures/keys.ts'
import { createOriginRoutes, type Origin } from '../../../src/entry/origin.ts'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import {
  Browser,
  SERVICE_SECRET,
  SPA_LOGOUT,
  SPA_REDIRECT,
  USER,
  testConfig,
  testPasswords,
} from '../../unit/oauth/support.ts'

let redis: RedisWithBridge
let server: Server
let dir: string
let origin: Origin
let issuer: string
let offset = 0
const clock = () => Date.now() + offset
const insecure = { [oauth.allowInsecureRequests]: true } as const
const spa: oauth.Client = { client_id: 'spa' }

beforeAll(async () => {
  redis = await useRedisWithBridge()
  let handler: (request: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503 })
  server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: (request) => handler(request), port: 0, hostname: '127.0.0.1' }, () =>
      resolve(s as Server),
    ) as Server
  })
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-origin-'))
  const configPath = join(dir, 'gatehouse.json')
  await writeFile(
    configPath,
    JSON.stringify(await testConfig({ issuer: 'https://replaced.by.env' })),
  )
  origin = await createOriginRoutes(
    {
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_ISSUER: issuer,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    },
    { passwords: testPasswords, clock, logger: silentLogger },
  )
  const app = createApp({
    role: 'origin',
    logger: silentLogger,
    verifier: { verify: () => Promise.reject(new Error('not used here')) },
    routes: [{ path: '/', app: origin.routes }],
  })
  handler = (request) => app.fetch(request)
})

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()))
  await redis?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function discover(): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer)
  return oauth.processDiscoveryResponse(
    url,
    await oauth.discoveryRequest(url, { algorithm: 'oidc', ...insecure }),
  )
}

const form = (path: string, body: Record<string, string>) =>
  fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  })

async function login(
  as: oauth.AuthorizationServer,
  browser = new Browser((u, i) => fetch(u, i as RequestInit)),
) {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: 'openid profile read',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString()
  let response = await browser.request(url.href)
  if (response.status === 200)
    response = await browser.submitLogin(await response.text(), USER.username, USER.password)
  const params = oauth.validateAuthResponse(
    as,
    spa,
    new URL(response.headers.get('location')!),
    state,
  )
  return { params, verifier, nonce, browser }
}

async function exchange(
  as: oauth.AuthorizationServer,
  params: URLSearchParams,
  verifier: string,
  nonce: string,
) {
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    spa,
    oauth.None(),
    params,
    SPA_REDIRECT,
    verifier,
    insecure,
  )
  return oauth.processAuthorizationCodeResponse(as, spa, response, {
    expectedNonce: nonce,
    requireIdToken: true,
  })
}

const refresh = (token: string) =>
  form('/token', { grant_type: 'refresh_token', refresh_token: token, client_id: 'spa' })

describe('origin over HTTP on real Redis', () => {
  it('publishes the key set to Redis with a version: public keys, the private half wrapped', async () => {
    const raw = await origin.store.get(keySetStoreKeys(issuer).document)
    const doc = parseKeySetDocument(raw)!
    expect(doc.version).toBeGreaterThanOrEqual(1)
    expect(doc.keys.map((k) => k.kid)).toEqual(['test-es256'])
    expect(doc.keys[0]!.jwk).not.toHaveProperty('d')
    expect(raw).not.toContain(String(privateJwks.ES256.d))
    expect(doc.keys[0]!.wrapped).toMatch(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  it('runs the full code + PKCE flow, userinfo, refresh, introspect, revoke, logout', async () => {
    const as = await discover()
    expect(as.token_endpoint).toBe(`${issuer}/token`)
    const { params, verifier, nonce, browser } = await login(as)
    const tokens = await exchange(as, params, verifier, nonce)
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: issuer,
      sub: USER.sub,
      client_id: 'spa',
    })

    const info = await oauth.processUserInfoResponse(
      as,
      spa,
      USER.sub,
      await oauth.userInfoRequest(as, spa, tokens.access_token, insecure),
    )
    expect(info['name']).toBe('Alice')

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      spa,
      await oauth.refreshTokenGrantRequest(as, spa, oauth.None(), tokens.refresh_token!, insecure),
    )
    const service: oauth.Client = { client_id: 'service' }
    const introspection = await oauth.processIntrospectionResponse(
      as,
      service,
      await oauth.introspectionRequest(
        as,
        service,
        oauth.ClientSecretBasic(SERVICE_SECRET),
        refreshed.access_token,
        insecure,
      ),
    )
    expect(introspection.active).toBe(true)

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, spa, oauth.None(), refreshed.access_token, insecure),
    )
    const afterRevoke = await oauth.userInfoRequest(as, spa, refreshed.access_token, insecure)
    expect(afterRevoke.status).toBe(401)

    const logout = await browser.request(
      `${as.end_session_endpoint}?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: SPA_LOGOUT, state: 's' })}`,
    )
    expect(logout.status).toBe(303)
    expect(logout.headers.get('location')).toBe(`${SPA_LOGOUT}?state=s`)
    expect((await refresh(refreshed.refresh_token!)).status).toBe(400)
  })

  it('two concurrent refreshes get the same successor; a replay after the window revokes the family', async () => {
    const as = await discover()
    const { params, verifier, nonce } = await login(as)
    const tokens = await exchange(as, params, verifier, nonce)
    const responses = await Promise.all([1, 2, 3, 4].map(() => refresh(tokens.refresh_token!)))
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200])
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as {
      refresh_token: string
    }[]
    expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1)
    const successor = bodies[0]!.refresh_token

    offset += 10_001
    expect((await refresh(tokens.refresh_token!)).status).toBe(400)
    expect((await refresh(successor)).status).toBe(400)
  })

  it('a replayed code fails and revokes what the first redemption issued', async () => {
    const as = await discover()
    const { params, verifier, nonce } = await login(as)
    const tokens = await exchange(as, params, verifier, nonce)
    const replay = await form('/token', {
      grant_type: 'authorization_code',
      code: params.get('code')!,
      redirect_uri: SPA_REDIRECT,
      code_verifier: verifier,
      client_id: 'spa',
    })
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await refresh(tokens.refresh_token!)).status).toBe(400)
    expect((await oauth.userInfoRequest(as, spa, tokens.access_token, insecure)).status).toBe(401)
  })

  it('an expired code (60 s) is refused', async () => {
    const as = await discover()
    const { params, verifier } = await login(as)
    offset += 60_001
    const response = await form('/token', {
      grant_type: 'authorization_code',
      code: params.get('code')!,
      redirect_uri: SPA_REDIRECT,
      code_verifier: verifier,
      client_id: 'spa',
    })
    expect(response.status).toBe(400)
  })
})
