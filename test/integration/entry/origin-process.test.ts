/**
 * The origin as the image and `npm start` run it (the built dist/entry/node.js) with a
 * GATEHOUSE_CONFIG: it mints a token over real HTTP on real Redis (Upstash bridge) and its own
 * /verify accepts that token with no GATEHOUSE_JWKS configured, because the origin verifies with the
 * keys it publishes. A bad config field stops it with the name.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { originApp } from '../../support/node-process.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { waitUntilRevoked } from '../../support/revocation-wait.ts'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import {
  API,
  Browser,
  SERVICE_SECRET,
  SPA_REDIRECT,
  USER,
  basic,
  testConfig,
} from '../../unit/oauth/support.ts'

const ROOT = new URL('../../../', import.meta.url).pathname
/** The operator's CLI runs from source (`npm run gatehouse`). */
const CLI = [
  '--experimental-strip-types',
  '--no-warnings=ExperimentalWarning',
  'src/cli/gatehouse.ts',
]

let redis: RedisWithBridge
let dir: string

beforeAll(async () => {
  redis = await useRedisWithBridge()
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-origin-process-'))
})

afterAll(async () => {
  await redis?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

function startOrigin(env: Record<string, string>) {
  const app = originApp()
  const child = spawn(process.execPath, app.argv, {
    cwd: app.dir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines: string[] = []
  const listening = new Promise<number>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line)
      const record = JSON.parse(line) as { msg?: string; port?: number }
      if (record.msg === 'listening' && record.port) resolve(record.port)
    })
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return { child, listening, exited, lines, stderr: () => stderr }
}

describe('origin process (GATEHOUSE_CONFIG)', () => {
  it('mints a client_credentials token and verifies it on its own /verify', async () => {
    const configPath = join(dir, 'ok.json')
    await writeFile(configPath, JSON.stringify(await testConfig()))
    const proc = startOrigin({
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_ISSUER: 'http://127.0.0.1:8788',
      GATEHOUSE_AUDIENCE: API,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    })
    try {
      const base = `http://127.0.0.1:${String(await proc.listening)}`
      const discovery = await fetch(`${base}/.well-known/openid-configuration`)
      expect(discovery.status).toBe(200)
      expect(await discovery.json()).toMatchObject({ issuer: 'http://127.0.0.1:8788' })

      const res = await fetch(`${base}/token`, {
        method: 'POST',
        headers: {
          Authorization: basic('service', SERVICE_SECRET),
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=read',
      })
      expect(res.status).toBe(200)
      const { access_token } = (await res.json()) as { access_token: string }

      const verified = await fetch(`${base}/verify`, {
        headers: { Authorization: `Bearer ${access_token}` },
      })
      expect(verified.status).toBe(200)
      expect(await verified.json()).toMatchObject({ active: true, client_id: 'service', aud: API })

      // A token from a different issuer (same shape) is refused by the origin's /verify.
      const forged = access_token.slice(0, -4) + (access_token.endsWith('AAAA') ? 'BBBB' : 'AAAA')
      const refused = await fetch(`${base}/verify`, {
        headers: { Authorization: `Bearer ${forged}` },
      })
      expect(refused.status).toBe(401)
      expect(proc.lines.join('\n')).not.toContain(access_token.split('.')[2])
      expect(proc.lines.join('\n')).not.toContain(SERVICE_SECRET)
    } finally {
      proc.child.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
    }
  })

  it('denies a revoked access token on /verify once a later revocation sync has run', async () => {
    const configPath = join(dir, 'revoke.json')
    await writeFile(configPath, JSON.stringify(await testConfig()))
    const proc = startOrigin({
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_AUDIENCE: API,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    })
    try {
      const base = `http://127.0.0.1:${String(await proc.listening)}`
      const form = (body: string) => ({
        method: 'POST',
        headers: {
          Authorization: basic('service', SERVICE_SECRET),
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body,
      })
      const minted = await fetch(`${base}/token`, form('grant_type=client_credentials&scope=read'))
      const { access_token } = (await minted.json()) as { access_token: string }
      const verify = () =>
        fetch(`${base}/verify`, { headers: { Authorization: `Bearer ${access_token}` } })
      expect((await verify()).status).toBe(200) // now in L1 too: revocation must still win

      expect((await fetch(`${base}/revoke`, form(`token=${access_token}`))).status).toBe(200)
      // Refused once a revocation sync that started after the acknowledgement has finished: the
      // mechanism behind the bound (GATEHOUSE_REVOCATION_SYNC_SECONDS + the sync timeout), which a
      // busy machine cannot break (test/support/revocation-wait.ts).
      await waitUntilRevoked(base, [{ token: access_token, ackedAtWall: Date.now() }])
      expect((await verify()).status).toBe(401)
      const status2 = await (await fetch(`${base}/revocation/status`)).json()
      expect(status2).toMatchObject({ implementation: 'wasm-simd', policy: 'open' })
    } finally {
      proc.child.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
    }
  })

  it('revokes every token of a user through the admin API and the CLI', async () => {
    const ISSUER = 'http://127.0.0.1:8788'
    const OPS_SECRET = 'ops-secret-0123456789abcdefghijklmnopqrstuvwxyz0123'
    const config = await testConfig({ issuer: ISSUER })
    config.clients = [
      ...(config.clients ?? []),
      {
        id: 'ops',
        type: 'confidential',
        secretHash: await hashClientSecret(OPS_SECRET),
        grantTypes: ['client_credentials'],
        scopes: ['gatehouse:admin'],
        audiences: [ISSUER],
      },
    ]
    const configPath = join(dir, 'admin.json')
    await writeFile(configPath, JSON.stringify(config))
    const env = { UPSTASH_REDIS_REST_URL: redis.url, UPSTASH_REDIS_REST_TOKEN: redis.token }
    const proc = startOrigin({ GATEHOUSE_CONFIG: configPath, GATEHOUSE_AUDIENCE: API, ...env })
    try {
      const base = `http://127.0.0.1:${String(await proc.listening)}`
      const mint = async (id: string, secret: string, body: string) => {
        const res = await fetch(`${base}/token`, {
          method: 'POST',
          headers: {
            Authorization: basic(id, secret),
            'Content-Type': 'application/x-www-form-urlencoded',
          },
          body,
        })
        expect(res.status).toBe(200)
        return ((await res.json()) as { access_token: string }).access_token
      }
      const user = await mint('service', SERVICE_SECRET, 'grant_type=client_credentials&scope=read')
      const admin = await mint(
        'ops',
        OPS_SECRET,
        `grant_type=client_credentials&scope=gatehouse:admin&resource=${encodeURIComponent(ISSUER)}`,
      )
      const revokeUrl = `${base}/admin/users/service/revoke`
      // The service's own token is not an admin token (wrong audience and scope).
      expect(
        (await fetch(revokeUrl, { method: 'POST', headers: { Authorization: `Bearer ${user}` } }))
          .status,
      ).toBe(401)
      expect((await fetch(revokeUrl, { method: 'POST' })).status).toBe(401)

      // A token minted in the same second as the revocation is covered too (not-before rounds up).
      const verify = () => fetch(`${base}/verify`, { headers: { Authorization: `Bearer ${user}` } })
      expect((await verify()).status).toBe(200)
      const revoked = await fetch(revokeUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin}` },
      })
      expect(revoked.status).toBe(200)
      expect(await revoked.json()).toMatchObject({ sub: 'service' })
      await waitUntilRevoked(base, [{ token: user, ackedAtWall: Date.now() }])
      expect((await verify()).status).toBe(401)

      // The CLI writes the same record: run it for another subject and read the not-before back.
      // It covers tokens issued up to the moment it ran, so it is no earlier than the start.
      const startedAt = Math.floor(Date.now() / 1000)
      const cli = spawn(process.execPath, [...CLI, 'users', 'revoke', 'alice-sub'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      cli.stdout.on('data', (d: Buffer) => (out += d.toString()))
      const [code] = await once(cli, 'exit')
      expect(code).toBe(0)
      const printed = JSON.parse(out) as { sub: string; notBefore: number }
      expect(printed.sub).toBe('alice-sub')
      expect(printed.notBefore).toBeGreaterThanOrEqual(startedAt)
    } finally {
      proc.child.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
    }
  })

  it('keys the per-IP login limit on the client behind GATEHOUSE_TRUSTED_PROXY_HOPS proxies', async () => {
    const ISSUER = 'http://127.0.0.1:8788'
    const config = await testConfig({
      issuer: ISSUER,
      rateLimits: {
        loginPerIp: { limit: 2, windowSeconds: 60 },
        loginPerUsername: { limit: 100, windowSeconds: 60 },
      },
    })
    const configPath = join(dir, 'proxy.json')
    await writeFile(configPath, JSON.stringify(config))
    const proc = startOrigin({
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_AUDIENCE: API,
      GATEHOUSE_TRUSTED_PROXY_HOPS: '1',
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    })
    try {
      const base = `http://127.0.0.1:${String(await proc.listening)}`
      let forwardedFor = ''
      const browser = new Browser((url, init) => {
        const request = init as RequestInit | undefined
        const headers = new Headers(request?.headers)
        headers.set('x-forwarded-for', forwardedFor)
        return fetch(String(url).replace(ISSUER, base), { ...request, headers })
      })
      const authorize = new URL(`${ISSUER}/authorize`)
      authorize.search = new URLSearchParams({
        client_id: 'spa',
        redirect_uri: SPA_REDIRECT,
        response_type: 'code',
        scope: 'openid',
        state: 's',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGcSjtSHqs',
        code_challenge_method: 'S256',
      }).toString()
      forwardedFor = '203.0.113.1'
      let page = await (await browser.request(authorize.href)).text()
      const attempt = async (ip: string) => {
        forwardedFor = ip
        const res = await browser.submitLogin(page, USER.username, 'wrong password')
        page = await res.clone().text()
        return res.status
      }
      // Every attempt comes from the same socket (this test); only the forwarded client differs.
      expect([await attempt('203.0.113.1'), await attempt('203.0.113.2')]).toEqual([400, 400])
      expect(await attempt('203.0.113.3')).toBe(400)
      // The same client again and again is limited on its own address.
      expect([await attempt('203.0.113.4'), await attempt('203.0.113.4')]).toEqual([400, 400])
      expect(await attempt('203.0.113.4')).toBe(429)
    } finally {
      proc.child.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
    }
  })

  it('refuses to start on a bad config field and names it', async () => {
    const configPath = join(dir, 'bad.json')
    const config = await testConfig()
    await writeFile(configPath, JSON.stringify({ ...config, tokens: { accessTokenTtlSeconds: 5 } }))
    const proc = startOrigin({
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_AUDIENCE: API,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    })
    expect(await proc.exited).toBe(1)
    expect(proc.stderr()).toContain('accessTokenTtlSeconds')
  })
})
