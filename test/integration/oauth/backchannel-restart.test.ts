/**
 * Back-channel logout as deployed (issue 21): the origin as `npm start` runs it, on real Redis behind
 * the Upstash bridge, POSTing to a relying party that is a real HTTP server validating every logout
 * token with jose. The relying party is down when the user signs out, then hangs on the request an
 * origin is making when that origin is SIGKILLed; a new origin process picks the job up after its
 * lease ends and delivers it. Nothing is lost, the user's sign-out never waited, every attempt
 * carried the same `jti`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { publicJwks } from '../../fixtures/keys.ts'
import { createLogoutReceiver, type LogoutReceiver } from '../../support/logout-receiver.ts'
import { startOriginProcess, type NodeProcess } from '../../support/node-process.ts'
import { until } from '../../support/poll.ts'
import { startRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { API, Browser, ISSUER, SPA_REDIRECT, USER, testConfig } from '../../unit/oauth/support.ts'

let redis: RedisWithBridge
let dir: string
let rp: LogoutReceiver
let rpServer: { url: string; close(): Promise<void> }
let env: Record<string, string>
const origins: NodeProcess[] = []

beforeAll(async () => {
  redis = await startRedisWithBridge()
  rp = createLogoutReceiver({ issuer: ISSUER, clientId: 'spa', jwks: publicJwks() })
  rpServer = await rp.listen()
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-bcl-'))
  const base = await testConfig()
  const config = await testConfig({
    clients: base.clients!.map((c) =>
      c.id === 'spa' ? { ...c, backchannelLogoutUri: rpServer.url } : c,
    ),
    // Retries every 0.2–0.5 s so the test is quick. The delivery deadline is the default 5 s (lease
    // 11 s): at 1 s, a busy machine could time out a delivery the relying party had accepted, and
    // the retry would deliver it twice.
    backchannelLogout: {
      timeoutSeconds: 5,
      retryBaseSeconds: 0.2,
      retryMaxSeconds: 0.5,
      pollSeconds: 0.2,
      maxAttempts: 50,
    },
  })
  const configPath = join(dir, 'gatehouse.json')
  await writeFile(configPath, JSON.stringify(config))
  env = {
    GATEHOUSE_CONFIG: configPath,
    GATEHOUSE_ISSUER: ISSUER,
    GATEHOUSE_AUDIENCE: API,
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
  }
})

afterAll(async () => {
  for (const origin of origins) await origin.kill().catch(() => {})
  await rpServer?.close()
  await redis?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function startOrigin(): Promise<NodeProcess> {
  const origin = await startOriginProcess(env)
  origins.push(origin)
  return origin
}

/**
 * A browser for the issuer's URLs at `base`, with a deadline generous enough for a first sign-in
 * (a rehash at production scrypt cost) on a machine shared with other test runs.
 */
const browserAt = (base: string) =>
  new Browser((input, init) => {
    const url = (typeof input === 'string' ? input : input.toString()).replace(ISSUER, base)
    return fetch(url, { ...(init as RequestInit), signal: AbortSignal.timeout(60_000) })
  })

/** The SPA's sign-in (code + PKCE) through `base`; the ID token and refresh token it got. */
async function signIn(base: string) {
  const browser = browserAt(base)
  const verifier = randomBytes(32).toString('base64url')
  const query = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: 'openid read',
    state: 's',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })
  let response = await browser.request(`${ISSUER}/authorize?${query}`)
  if (response.status === 200)
    response = await browser.submitLogin(await response.text(), USER.username, USER.password)
  const code = new URL(response.headers.get('location')!).searchParams.get('code')!
  const token = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: SPA_REDIRECT,
      client_id: 'spa',
      code_verifier: verifier,
    }),
  })
  expect(token.status).toBe(200)
  const body = (await token.json()) as { id_token: string; refresh_token: string }
  return { browser, idToken: body.id_token, refreshToken: body.refresh_token }
}

describe('back-channel logout across an origin crash, on real Redis, to a real relying party', () => {
  it('is retried while the relying party is down and delivered by the next origin', async () => {
    const first = await startOrigin()
    const { browser, idToken, refreshToken } = await signIn(first.url)
    const sid = decodeJwt(idToken)['sid']

    rp.setMode('down')
    const signedOut = await browser.request(
      `${ISSUER}/logout?${new URLSearchParams({ id_token_hint: idToken })}`,
    )
    // The answer does not wait for the relying party (it is down and still being retried).
    expect(signedOut.status).toBe(200)
    expect(await signedOut.text()).toContain('You are signed out')
    await rp.waitForRequests(2) // two attempts refused with 503: retries with backoff

    // The next attempt hangs at the relying party; the origin making it dies mid-delivery.
    rp.setMode('hang')
    await rp.waitForRequests(rp.received.length + 1)
    await first.kill()
    rp.setMode('ok')

    const second = await startOrigin()
    const delivered = await rp.next()
    expect(delivered).toMatchObject({ iss: ISSUER, aud: 'spa', sub: USER.sub, sid })
    // One logout, however many attempts: the same jti every time.
    expect(new Set(rp.received.map((r) => r.jti))).toEqual(new Set([delivered.jti]))
    expect(rp.received.filter((r) => r.status === 200)).toHaveLength(1)
    const delivery = () => second.logs.find((l) => l.msg === 'backchannel logout delivered')
    await until(() => delivery() !== undefined, 30_000, 'the delivery log line')
    const log = delivery()
    expect(log).toMatchObject({ clientId: 'spa' })
    expect(Number(log?.['attempt'])).toBeGreaterThanOrEqual(4)
    expect(JSON.stringify(second.logs)).not.toContain(idToken)

    const refreshed = await fetch(`${second.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'spa',
      }),
    })
    expect(refreshed.status).toBe(400)
  })
})
