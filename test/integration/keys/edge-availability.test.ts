/**
 * Edge availability on the real Worker (issue 12 item 3): src/entry/worker.ts in `workerd serve`
 * (the chaos harness, test/support/edge-worker.ts) with a fault proxy on each of its paths, to a
 * real origin process (the built entry, which publishes the key set, JWKS and discovery in L2) and
 * to L2 (a real redis-server behind the Upstash bridge). `edge.restart()` is a cold isolate: a new
 * workerd process, no keys, no revocation filter, no L1.
 *
 * Cases: origin down + cold isolate verifies; L2 down (refused or hanging) + warm isolate verifies
 * with its cached keys and says so in /revocation/status and /metrics; L2 and origin down + cold
 * isolate answers 503 with Retry-After, never a 500 or an acceptance; a fail-closed deployment
 * refuses once its revocation state is stale and recovers when L2 is back. Each answer's status,
 * Retry-After and time are reported (docs/reliability.md, "Edge availability"); no time is asserted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startEdgeWorker, type EdgeWorker } from '../../support/edge-worker.ts'
import { startOriginProcess, type NodeProcess } from '../../support/node-process.ts'
import { clientCredentials, type Outcome } from '../../support/oauth-http.ts'
import { until } from '../../support/poll.ts'
import { startRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import type { TcpProxyMode } from '../../support/tcp-proxy.ts'
import { API, ISSUER, testConfig } from '../../unit/oauth/support.ts'

/** A hang guard for conditions that follow from the set-up (a sync that fails, a copy that ages). */
const DEADLINE_MS = 60_000
/** Revocation sync every 1 s with a 1 s timeout; stale past 5 s (the smallest the config allows). */
const REVOCATION_VARS = {
  GATEHOUSE_REVOCATION_SYNC_SECONDS: '1',
  GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS: '1000',
  GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS: '5',
}

let dir: string
let redis: RedisWithBridge
let origin: NodeProcess
let edge: EdgeWorker
/** What each case measured, printed at the end for docs/reliability.md. */
const measured: Record<string, Record<string, unknown>> = {}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-availability-'))
  redis = await startRedisWithBridge()
  const configPath = join(dir, 'gatehouse.json')
  // The set's cacheSeconds (2) makes the edge re-read it every 2 s, so an L2 outage shows quickly.
  await writeFile(
    configPath,
    JSON.stringify({
      ...(await testConfig()),
      keyRotation: { cacheSeconds: 2, prePublishSeconds: 4, checkSeconds: 1 },
    }),
    { mode: 0o600 },
  )
  origin = await startOriginProcess({
    GATEHOUSE_CONFIG: configPath,
    GATEHOUSE_AUDIENCE: API,
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
  })
  // Ready once it has published (or read) the key set and mints.
  await until(
    async () => (await clientCredentials(origin.url)).outcome.status === 200,
    DEADLINE_MS,
    'the origin minting its first token',
    100,
  )
  edge = await startEdgeWorker({
    issuer: ISSUER,
    audience: API,
    originUrl: origin.url,
    l2: { url: redis.url, token: redis.token },
    // A hanging origin costs one JWKS timeout (the fallback while L2 has no set), not three seconds.
    vars: { ...REVOCATION_VARS, GATEHOUSE_JWKS_TIMEOUT_MS: '1000', GATEHOUSE_LOG_LEVEL: 'warn' },
  })
})

afterAll(async () => {
  console.info(JSON.stringify({ edgeAvailability: measured }))
  await edge?.close()
  await origin?.kill()
  await redis?.close()
  await rm(dir, { recursive: true, force: true })
})

/** Both paths healthy and the default bindings back (each case sets its faults, then restarts). */
beforeEach(async () => {
  await edge.originProxy.setMode('pass')
  await edge.l2Proxy.setMode('pass')
})

async function mint(): Promise<string> {
  const { outcome, body } = await clientCredentials(origin.url)
  expect(outcome.status).toBe(200)
  return String(body?.access_token)
}

interface EdgeStatus {
  policy: string
  stale: boolean
  lastError: string | null
  keys: { source: string | null; stale: boolean; lastError: string | null; version: number | null }
}
const status = async () =>
  (await (await fetch(`${edge.url}/revocation/status`)).json()) as EdgeStatus
const metrics = async () => (await fetch(`${edge.url}/metrics`)).text()

/**
 * One request to the edge, timed; a generous deadline (oauth-http's 5 s client deadline could cut a
 * 503 that waits for two timeouts on a busy machine, and we want its status).
 */
async function call(path: string, token?: string) {
  const at = performance.now()
  const response = await fetch(`${edge.url}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(DEADLINE_MS),
  })
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined
  const outcome: Outcome = {
    op: `GET ${path}`,
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    at,
    ms: performance.now() - at,
    ...(typeof body?.error === 'string' ? { error: body.error } : {}),
  }
  return { outcome, body }
}
const verify = (token: string) => call('/verify', token)
const get = (path: string) => call(path)

const brief = (o: Outcome) => ({
  status: o.status,
  ...(o.error === undefined ? {} : { error: o.error }),
  ...(o.retryAfter === null ? {} : { retryAfter: o.retryAfter }),
  ms: Math.round(o.ms),
})

/** Waits until the edge accepts `token` again (after a fault heals). */
const untilVerifies = (token: string, what: string) =>
  until(async () => (await verify(token)).outcome.status === 200, DEADLINE_MS, what, 200)

/** Never a 500 and never an acceptance: a 503 that says when to come back. */
function expectRetryLater(o: Outcome) {
  expect(o.status, JSON.stringify(o)).toBe(503)
  expect(o.retryAfter, JSON.stringify(o)).toMatch(/^\d+$/)
}

describe('edge availability: the Worker in workerd, real origin and L2 behind fault proxies', () => {
  it('origin down, cold isolate: verifies with the key set from L2, serves JWKS and discovery', async () => {
    const token = await mint()
    await edge.originProxy.setMode('refuse')
    await edge.restart()
    const verified = await verify(token)
    expect(verified.outcome.status).toBe(200)
    expect(verified.body).toMatchObject({ active: true, iss: ISSUER })

    const jwks = await get('/.well-known/jwks.json')
    expect(jwks.outcome.status).toBe(200)
    const kids = (jwks.body?.keys as { kid: string }[]).map((k) => k.kid)
    expect(kids).toContain(decodeProtectedHeader(token).kid)
    const discovery = await get('/.well-known/openid-configuration')
    expect(discovery.outcome.status).toBe(200)
    expect(discovery.body).toMatchObject({ issuer: ISSUER, jwks_uri: expect.any(String) })
    expect((await status()).keys).toMatchObject({ source: 'l2', stale: false })
    // Minting needs the origin: a 503 with Retry-After from the forwarder, not a 500.
    const minting = await clientCredentials(edge.url)
    expectRetryLater(minting.outcome)
    measured['origin down, cold isolate'] = {
      verify: brief(verified.outcome),
      jwks: brief(jwks.outcome),
      discovery: brief(discovery.outcome),
      token: brief(minting.outcome),
    }
  })

  it.each<TcpProxyMode>(['refuse', 'blackhole'])(
    'L2 down (%s), warm isolate: verifies with its cached keys and says so in status and metrics',
    async (mode) => {
      await edge.restart()
      expect((await verify(await mint())).outcome.status).toBe(200) // warm
      await edge.l2Proxy.setMode(mode)
      edge.l2Proxy.resetConnections()
      // Tokens this isolate has not seen (no L1 entry): their key comes from the cached set.
      let fresh = ''
      const answers: Outcome[] = []
      await until(
        async () => {
          fresh = await mint()
          const { outcome } = await verify(fresh)
          answers.push(outcome)
          const s = await status()
          return s.stale && s.keys.stale
        },
        DEADLINE_MS,
        'the edge reporting its keys and revocation state stale',
        200,
      )
      // Fail-open (the default policy): every answer was an acceptance, none a 5xx.
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
      const s = await status()
      expect(s).toMatchObject({ policy: 'open', stale: true })
      expect(s.keys).toMatchObject({ source: 'l2', stale: true })
      expect(s.keys.lastError).toMatch(/^(unreachable|timeout)$/)
      const text = await metrics()
      expect(text).toContain('gatehouse_keys_source{source="l2"} 1')
      expect(text).toContain('gatehouse_keys_stale 1')
      expect(text).toContain('gatehouse_revocation_policy{policy="open"} 1')
      expect(text).toContain('gatehouse_revocation_stale 1')
      // The origin down as well: still verifying from the isolate's copy.
      await edge.originProxy.setMode(mode)
      edge.originProxy.resetConnections()
      const alone = await verify(fresh)
      expect(alone.outcome.status).toBe(200)
      measured[`L2 down (${mode}), warm isolate`] = {
        verifyWhileGoingStale: {
          answers: answers.length,
          maxMs: Math.round(Math.max(...answers.map((a) => a.ms))),
        },
        verifyWithOriginDownToo: brief(alone.outcome),
        keysLastError: s.keys.lastError,
      }
    },
  )

  it.each<TcpProxyMode>(['refuse', 'blackhole'])(
    'L2 and origin down (%s), cold isolate: 503 with Retry-After, never a 500 or an acceptance',
    async (mode) => {
      const token = await mint()
      await edge.l2Proxy.setMode(mode)
      await edge.originProxy.setMode(mode)
      await edge.restart()
      const refused = await verify(token)
      expectRetryLater(refused.outcome)
      const jwks = await get('/.well-known/jwks.json')
      expectRetryLater(jwks.outcome)
      const discovery = await get('/.well-known/openid-configuration')
      expectRetryLater(discovery.outcome)
      expect((await status()).keys).toMatchObject({ source: null, stale: true })
      // The same isolate once L2 is back: verifies (it re-reads after its failure cooldown).
      await edge.l2Proxy.setMode('pass')
      await untilVerifies(token, 'the edge verifying again once L2 answers')
      measured[`L2 and origin down (${mode}), cold isolate`] = {
        verify: brief(refused.outcome),
        jwks: brief(jwks.outcome),
        discovery: brief(discovery.outcome),
      }
    },
  )

  it('a fail-closed deployment: L2 down past the staleness limit refuses tokens, says why, recovers', async () => {
    await edge.restart({ GATEHOUSE_REVOCATION_POLICY: 'closed' })
    try {
      const token = await mint()
      expect((await verify(token)).outcome.status).toBe(200)
      await edge.l2Proxy.setMode('refuse')
      edge.l2Proxy.resetConnections()
      let refused: Outcome | undefined
      await until(
        async () => {
          const { outcome } = await verify(token)
          if (outcome.status === 200) return false
          refused = outcome
          return true
        },
        DEADLINE_MS,
        'the fail-closed edge refusing once its revocation state is stale',
        200,
      )
      expectRetryLater(refused!)
      expect(refused!.error).toBe('temporarily_unavailable')
      expect(await status()).toMatchObject({ policy: 'closed', stale: true })
      const text = await metrics()
      expect(text).toContain('gatehouse_revocation_policy{policy="closed"} 1')
      expect(text).toContain('gatehouse_revocation_stale 1')
      await edge.l2Proxy.setMode('pass')
      await untilVerifies(token, 'the fail-closed edge accepting again once L2 answers')
      measured['fail-closed, L2 down, warm isolate'] = { verify: brief(refused!) }
    } finally {
      await edge.restart({ GATEHOUSE_REVOCATION_POLICY: '' })
    }
  })
})
