/**
 * Tenancy on the Node origin as deployed: `startNodeServer` with `GATEHOUSE_TENANCY=true`, the
 * production Upstash adapter on a real redis-server behind the REST bridge, tenants added through the
 * admin API. Each tenant mints with its own keys under its own issuer, at its own endpoints, from its
 * own clients; its data lands in its namespace only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../scripts/dev-ports.ts'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import { keySetStoreKeys, parseKeySetDocument } from '../../../src/core/published-key-set.ts'
import { startNodeServer, type NodeServer } from '../../../src/entry/node-server.ts'
import { silentLogger } from '../../../src/http/log.ts'
import type { Store } from '../../../src/store/types.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { newAdminSecret } from '../../../src/tenancy/admin-credential.ts'
import { until } from '../../support/poll.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { testConfig } from '../../unit/oauth/support.ts'

let redis: RedisWithBridge
let server: NodeServer
let dir: string
let base: string
let admin: { secret: string; digest: string }
let store: Store

const SECRET = {
  acme: 'acme-secret-0123456789abcdefghijklmnop',
  globex: 'globex-secret-0123456789abcdefghij',
}

async function tenant(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    issuer: `${base}/t/${id}`,
    audiences: [`https://api.${id}.test`],
    oauth: {
      clients: [
        {
          id: 'svc',
          type: 'confidential',
          secretHash: await hashClientSecret(SECRET[id as keyof typeof SECRET] ?? 'x'.repeat(40)),
          grantTypes: ['client_credentials'],
          scopes: ['read'],
          audiences: [`https://api.${id}.test`],
        },
      ],
    },
    ...extra,
  }
}

const adminCall = (method: string, path: string, body?: unknown, secret = admin.secret) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

const mint = (id: string, secret: string) =>
  fetch(`${base}/t/${id}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${btoa(`svc:${secret}`)}`,
    },
    body: 'grant_type=client_credentials',
  })

const verify = (token: string) =>
  fetch(`${base}/verify`, { headers: { authorization: `Bearer ${token}` } })

beforeAll(async () => {
  redis = await useRedisWithBridge()
  store = createUpstashStore({ url: redis.url, token: redis.token })
  admin = await newAdminSecret()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-tenancy-'))
  const configPath = join(dir, 'gatehouse.json')
  await writeFile(configPath, JSON.stringify(await testConfig({ issuer: base })))
  server = await startNodeServer(
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_AUDIENCE: 'https://api.test',
      GATEHOUSE_TENANCY: 'true',
      GATEHOUSE_ADMIN_SECRET_HASH: admin.digest,
      GATEHOUSE_REVOCATION_SYNC_SECONDS: '1',
      GATEHOUSE_LOG_LEVEL: 'silent',
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    },
    { logger: silentLogger },
  )
  for (const id of ['acme', 'globex']) {
    const extra = id === 'globex' ? { quotas: { tokenMintsPerMinute: 2 } } : {}
    expect((await adminCall('POST', '/admin/tenants', await tenant(id, extra))).status).toBe(201)
  }
})

afterAll(async () => {
  await server?.shutdown()
  await redis?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

// Generous: the first request of a tenant builds its context, slow on a loaded machine.
describe('tenants on the Node origin', () => {
  it('the tenant admin API takes only the admin credential, never a tenant token', async () => {
    const token = ((await (await mint('acme', SECRET.acme)).json()) as { access_token: string })
      .access_token
    for (const secret of [undefined, 'wrong', token]) {
      const response = await fetch(`${base}/admin/tenants/acme`, {
        headers: secret ? { authorization: `Bearer ${secret}` } : {},
      })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /)
    }
    expect((await adminCall('GET', '/admin/tenants/acme')).status).toBe(200)
  })

  it('a tenant definition that breaks a rule is a 400 naming the fields, never their values', async () => {
    const bad = await tenant('initech')
    bad.oauth.clients[0]!.secretHash = 'sha256:not-a-hash-but-a-secret-value'
    const response = await adminCall('POST', '/admin/tenants', { ...bad, audiences: ['nope'] })
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error: string; error_description: string }
    expect(body.error).toBe('invalid_request')
    expect(body.error_description).toContain('tenant.audiences[0]')
    expect(body.error_description).not.toContain('not-a-hash-but-a-secret-value')
    const conflict = await adminCall('POST', '/admin/tenants', await tenant('acme'))
    expect(conflict.status).toBe(409)
  })

  it('each tenant serves its own discovery and JWKS under its issuer path', async () => {
    const acme = (await (
      await fetch(`${base}/t/acme/.well-known/openid-configuration`)
    ).json()) as Record<string, string>
    expect(acme.issuer).toBe(`${base}/t/acme`)
    expect(acme.token_endpoint).toBe(`${base}/t/acme/token`)
    // RFC 8414 §3.1: the well-known segment before the issuer's path.
    const rfc8414 = await fetch(`${base}/.well-known/oauth-authorization-server/t/acme`)
    expect(((await rfc8414.json()) as Record<string, string>).issuer).toBe(`${base}/t/acme`)
    const kids = async (path: string) =>
      (
        (await (await fetch(`${base}${path}`)).json()) as { keys: { kid: string; x: string }[] }
      ).keys.map((k) => k.x)
    const [mine, theirs, main] = await Promise.all([
      kids('/t/acme/.well-known/jwks.json'),
      kids('/t/globex/.well-known/jwks.json'),
      kids('/.well-known/jwks.json'),
    ])
    expect(mine).toHaveLength(1)
    expect(theirs.some((x) => mine.includes(x))).toBe(false)
    expect(main.some((x) => mine.includes(x))).toBe(false)
    expect((await fetch(`${base}/t/nobody/.well-known/openid-configuration`)).status).toBe(404)
  })

  it("each tenant's signing keys are its own key set in its namespace, private halves wrapped", async () => {
    await fetch(`${base}/t/acme/.well-known/jwks.json`) // builds the tenant here
    const issuer = `${base}/t/acme`
    const raw = await store.get(`t:acme:${keySetStoreKeys(issuer).document}`)
    const doc = parseKeySetDocument(raw)
    expect(doc?.issuer).toBe(issuer)
    // Its discovery is published with it: what the edge serves for the tenant.
    expect(doc?.discovery).toMatchObject({ issuer, token_endpoint: `${issuer}/token` })
    expect(doc?.keys.length).toBeGreaterThan(0)
    for (const key of doc?.keys ?? []) {
      expect(key.wrapped).toBeTruthy()
      expect(JSON.stringify(key.jwk)).not.toContain('"d"')
    }
    // Nothing of it outside the namespace.
    expect(await store.get(keySetStoreKeys(issuer).document)).toBeNull()
    const { access_token: token } = (await (await mint('acme', SECRET.acme)).json()) as {
      access_token: string
    }
    expect(doc?.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(token).kid)
  })

  it("a tenant's token carries its issuer, verifies as that tenant, and its client is unknown elsewhere", async () => {
    const response = await mint('acme', SECRET.acme)
    expect(response.status).toBe(200)
    const { access_token: token } = (await response.json()) as { access_token: string }
    expect(decodeJwt(token).iss).toBe(`${base}/t/acme`)
    expect(decodeProtectedHeader(token).kid).toBeTruthy()
    const verified = await verify(token)
    expect(verified.status).toBe(200)
    expect(((await verified.json()) as { iss: string }).iss).toBe(`${base}/t/acme`)
    // The same client id with acme's secret at globex's token endpoint: globex's client decides.
    expect((await mint('globex', SECRET.acme)).status).toBe(401)
  })

  it('a tenant at its mint quota gets 429 with Retry-After while another tenant keeps minting', async () => {
    let limited: Response | undefined
    for (let i = 0; i < 6 && !limited; i++) {
      const response = await mint('globex', SECRET.globex)
      if (response.status === 429) limited = response
      else expect(response.status).toBe(200)
    }
    expect(limited).toBeDefined()
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(((await limited!.json()) as { error: string }).error).toBe('temporarily_unavailable')
    expect((await mint('acme', SECRET.acme)).status).toBe(200)
  })

  it("a tenant's revocation lands in its namespace only, record and event in one Lua step", async () => {
    const { access_token: token } = (await (await mint('acme', SECRET.acme)).json()) as {
      access_token: string
    }
    const revoke = await fetch(`${base}/t/acme/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`svc:${SECRET.acme}`)}`,
      },
      body: new URLSearchParams({ token }),
    })
    expect(revoke.status).toBe(200)
    const jti = decodeJwt(token).jti as string
    expect(await store.get(`t:acme:rev:jti:${jti}`)).not.toBeNull()
    expect(await store.get(`rev:jti:${jti}`)).toBeNull()
    expect(await store.get(`t:globex:rev:jti:${jti}`)).toBeNull()
    const events = await store.readStream('t:acme:rev:stream', '0')
    expect(events.some((e) => e.fields.id === jti)).toBe(true)
    expect((await store.readStream('rev:stream', '0')).some((e) => e.fields.id === jti)).toBe(false)
    await until(async () => (await verify(token)).status === 401, 20_000, 'revoked at /verify')
  })

  it('a removed tenant stops minting and its tokens stop verifying within the bound', async () => {
    expect((await adminCall('POST', '/admin/tenants', await tenant('initech'))).status).toBe(201)
    const { access_token: token } = (await (await mint('initech', 'x'.repeat(40))).json()) as {
      access_token: string
    }
    expect((await verify(token)).status).toBe(200)
    expect((await adminCall('DELETE', '/admin/tenants/initech')).status).toBe(200)
    await until(async () => (await verify(token)).status === 401, 20_000, 'tenant gone at /verify')
    // The origin's routing follows the registry on its own schedule: gone within the bound too.
    await until(
      async () => (await mint('initech', 'x'.repeat(40))).status === 404,
      20_000,
      'tenant gone at its token endpoint',
    )
    expect((await mint('acme', SECRET.acme)).status).toBe(200)
  })
})
