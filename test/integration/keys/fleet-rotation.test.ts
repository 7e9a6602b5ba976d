/**
 * Issue 20, as it will be checked from outside: two origins (the built dist/entry/node.js, as the
 * image and `npm start` run it) and the real edge Worker (workerd serve) on one real Redis behind the
 * Upstash bridge, through several scheduled key rotations with a short schedule, under constant /token,
 * /verify, /introspect and /revoke traffic, with a rolling restart of both origins in the middle.
 * Origin 1's clock runs `SKEW_MS` behind (test/support/skewed-clock.ts): after every activation,
 * origin 0 signs with a key origin 1 still sees as `next` for that long, the staggered promote in
 * which issue 20 lost revocations; the run counts those tokens and revocations.
 *
 * Expected: zero failed verifications (every live, unrevoked token verifies at the edge and at both
 * origins, and both origins introspect it as active), and zero lost revocations (a revocation
 * acknowledged by either origin is refused by the other origin at once and by the edge within the
 * revocation bound). Waits are on events (rotations seen, revocations enforced) with generous
 * deadlines; nothing asserts on elapsed time.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../scripts/dev-ports.ts'
import { keysRevoke } from '../../../src/cli/keys.ts'
import { generateKeyEncryptionKey } from '../../../src/core/oauth/key-wrap.ts'
import { startEdgeWorker, type EdgeWorker } from '../../support/edge-worker.ts'
import { startOriginProcess, type NodeProcess } from '../../support/node-process.ts'
import { clientCredentials, exchange, revokeToken, verifyToken } from '../../support/oauth-http.ts'
import { until } from '../../support/poll.ts'
import { startRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { API, ISSUER, SERVICE_SECRET, basic, testConfig } from '../../unit/oauth/support.ts'

/** Rotations to see under load: a new signing key this many times. */
const ROTATIONS = 4
/** Origin 1's clock is this far behind origin 0's and the edge's (less than the 4 s pre-publication). */
const SKEW_MS = 2000
const SKEWED_CLOCK = [
  '--import',
  new URL('../../support/skewed-clock.ts', import.meta.url).pathname,
]
/**
 * Deadline for an acknowledged revocation to be refused at the edge: a hang guard, not the bound
 * (3 s while L2 answers within the sync timeout, which a busy machine does not always manage; the
 * chaos suite measures it: docs/reliability.md). As generous as the chaos suite's.
 */
const ENFORCEMENT_DEADLINE_MS = 30_000

let dir: string
let configPath: string
let redis: RedisWithBridge
let edge: EdgeWorker
const origins: {
  port: number
  env: Record<string, string>
  nodeArgs: string[]
  process?: NodeProcess
}[] = []

const originUrl = (i: number) => `http://127.0.0.1:${origins[i]!.port}`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-fleet-'))
  redis = await startRedisWithBridge()
  configPath = join(dir, 'gatehouse.json')
  await writeFile(
    configPath,
    JSON.stringify({
      ...(await testConfig({
        keys: [],
        tokens: { accessTokenTtlSeconds: 300, idTokenTtlSeconds: 300 },
      })),
      keyEncryptionKeys: [generateKeyEncryptionKey('fleet-kek')],
      // A short schedule: a key signs for 6 s and is published 4 s before (twice the 2 s cache).
      keyRotation: {
        periodSeconds: 6,
        prePublishSeconds: 4,
        cacheSeconds: 2,
        checkSeconds: 1,
        retainSeconds: 420,
      },
    }),
  )
  await chmod(configPath, 0o600)
  for (let i = 0; i < 2; i++) {
    const port = await freePort()
    const env = {
      PORT: String(port),
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_AUDIENCE: API,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
      // Fresh tokens of the origin ahead carry an `iat` in the future of the one behind.
      GATEHOUSE_CLOCK_LEEWAY_SECONDS: '5',
      ...(i === 1 ? { TEST_CLOCK_SKEW_MS: String(-SKEW_MS) } : {}),
    }
    const nodeArgs = i === 1 ? SKEWED_CLOCK : []
    const child = await startOriginProcess(env, { nodeArgs })
    origins.push({ port, env, nodeArgs, process: child })
  }
  // The chaos harness's Worker (its proxies stay in pass mode here). Its JWKS URL, origin 0's, is
  // used only while L2 has no key set; it has one as soon as the first origin started.
  edge = await startEdgeWorker({
    issuer: ISSUER,
    audience: API,
    originUrl: originUrl(0),
    l2: { url: redis.url, token: redis.token },
    vars: { GATEHOUSE_LOG_LEVEL: 'warn' },
  })
}, 120_000)

afterAll(async () => {
  await edge?.close()
  for (const o of origins) await o.process?.kill()
  await redis?.close()
  await rm(dir, { recursive: true, force: true })
})

const introspect = (base: string, token: string) =>
  exchange('introspect', `${base}/introspect`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic('service', SERVICE_SECRET),
    },
    body: new URLSearchParams({ token }).toString(),
  })

describe('a fleet rotating its signing keys under load', () => {
  it('fails no verification and loses no revocation, rolling restarts included', async () => {
    const failures: string[] = []
    const kids = new Set<string>()
    const live: string[] = []
    const revoked: { token: string; by: number; ackedAt: number }[] = []
    const revoking = new Set<string>()
    // Which kids each origin has signed with, and the tokens origin 0 signed with a kid origin 1 had
    // not signed with yet (for origin 1 the key was still `next`: the staggered promote).
    const signedWith = [new Set<string>(), new Set<string>()]
    const staggered = new Set<string>()
    let staggeredRevocations = 0
    // From acknowledgement to the edge refusing the token, per revocation (ms).
    const enforcedAfter: number[] = []
    const watchers: Promise<void>[] = []
    const watchEdge = async (token: string, ackedAt: number) => {
      await until(
        async () => (await verifyToken(edge.url, token)).outcome.status === 401,
        ENFORCEMENT_DEADLINE_MS,
        'an acknowledged revocation enforced at the edge',
        50,
      ).then(
        () => void enforcedAfter.push(performance.now() - ackedAt),
        () => void failures.push('a revocation never reached the edge'),
      )
    }
    let stop = false
    let minted = 0
    let restarting = -1
    // Bumped when an origin goes down and when it is back: an answer is judged only if its origin
    // stayed up throughout the request.
    const epochs = [0, 0]

    const up = (i: number) => i !== restarting
    const pick = () => (up(minted % 2) ? minted % 2 : 1 - (minted % 2))

    async function mintLoop() {
      while (!stop) {
        const i = pick()
        const epoch = epochs[i]
        const { outcome, body } = await clientCredentials(originUrl(i))
        if (!up(i) || epochs[i] !== epoch) continue
        if (outcome.status !== 200 || typeof body?.access_token !== 'string') {
          failures.push(`token at origin ${i}: ${outcome.status} ${outcome.error ?? ''}`)
          continue
        }
        minted++
        const kid = String(decodeProtectedHeader(body.access_token).kid)
        kids.add(kid)
        signedWith[i]!.add(kid)
        if (i === 0 && !signedWith[1]!.has(kid)) staggered.add(body.access_token)
        live.push(body.access_token)
        if (live.length > 12) live.shift()
      }
    }

    async function verifyLoop() {
      while (!stop) {
        const token = live.at(-1 - Math.floor(Math.random() * Math.min(live.length, 6)))
        if (token === undefined) {
          await new Promise((r) => setTimeout(r, 20))
          continue
        }
        const epoch = [...epochs]
        const checks = await Promise.all([
          verifyToken(edge.url, token).then(
            ({ outcome, body }) => ['edge', { ...outcome, why: body?.error_description }] as const,
          ),
          ...[0, 1]
            .filter(up)
            .flatMap((i) => [
              verifyToken(originUrl(i), token).then(
                ({ outcome, body }) => [i, { ...outcome, why: body?.error_description }] as const,
              ),
              introspect(originUrl(i), token).then(
                ({ outcome, body }) => [i, { ...outcome, active: body?.active }] as const,
              ),
            ]),
        ])
        // Revoked meanwhile (or being revoked): those are checked below.
        if (revoking.has(token)) continue
        for (const [where, outcome] of checks) {
          if (where !== 'edge' && epochs[where] !== epoch[where]) continue // restarted meanwhile
          const active = 'active' in outcome ? outcome.active : true
          if (outcome.status !== 200 || active !== true)
            failures.push(
              `${where === 'edge' ? 'edge' : `origin ${where}`} ${outcome.op}: ` +
                `${outcome.status} ${outcome.error ?? ''} active=${String(active)} ` +
                `${'why' in outcome ? String(outcome.why) : ''}`,
            )
        }
      }
    }

    async function revokeLoop() {
      let n = 0
      while (!stop) {
        await new Promise((r) => setTimeout(r, 150))
        const by = up(n % 2) ? n % 2 : 1 - (n % 2)
        n++
        // Origin 1 revokes a staggered token when there is one (issue 20's case), else the oldest.
        const pickAt = by === 1 ? live.findLastIndex((t) => staggered.has(t)) : -1
        const token = pickAt >= 0 ? live.splice(pickAt, 1)[0] : live.shift()
        if (token === undefined) continue
        revoking.add(token)
        const epoch = epochs[by]
        const { outcome } = await revokeToken(originUrl(by), token)
        if (epochs[by] !== epoch) continue // the origin restarted under the request: not acknowledged
        if (outcome.status !== 200) {
          failures.push(`revoke at origin ${by}: ${outcome.status}`)
          continue
        }
        const ackedAt = performance.now()
        revoked.push({ token, by, ackedAt })
        // Revoked at the origin that still saw the key as next: where issue 20 lost them.
        if (by === 1 && staggered.has(token)) staggeredRevocations++
        watchers.push(watchEdge(token, ackedAt))
        // Acknowledged: the other origin refuses it at once (the record is in L2).
        const other = 1 - by
        if (up(other)) {
          const { body } = await introspect(originUrl(other), token)
          if (body?.active !== false) failures.push(`revocation by ${by} not seen by ${other}`)
        }
      }
    }

    async function rollingRestart(i: number) {
      restarting = i
      epochs[i]!++
      const o = origins[i]!
      expect(await o.process!.stop()).toBe(0)
      o.process = await startOriginProcess(o.env, { nodeArgs: o.nodeArgs })
      epochs[i]!++
      restarting = -1
    }

    const loops = [mintLoop(), verifyLoop(), verifyLoop(), revokeLoop()]
    try {
      await until(() => kids.size >= 2, 60_000, 'a first rotation', 100)
      await rollingRestart(0)
      await until(() => kids.size >= 3, 60_000, 'a rotation after restarting origin 0', 100)
      await rollingRestart(1)
      await until(() => kids.size >= ROTATIONS + 1, 90_000, `${ROTATIONS} rotations`, 100)
    } finally {
      stop = true
      await Promise.all(loops)
    }

    // Every acknowledged revocation: refused by the edge within the bound, and by both origins.
    await Promise.all(watchers)
    for (const { token } of revoked)
      for (const i of [0, 1]) {
        const { body } = await introspect(originUrl(i), token)
        if (body?.active !== false) failures.push(`lost revocation at origin ${i}`)
      }

    // Reported, not asserted (docs/keys.md quotes it).
    const sorted = [...enforcedAfter].sort((a, b) => a - b)
    console.info(
      JSON.stringify({
        rotations: kids.size - 1,
        tokens: minted,
        staggeredTokens: staggered.size,
        revocations: revoked.length,
        staggeredRevocations,
        edgeEnforcementMs: {
          median: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
          max: Math.round(sorted.at(-1) ?? 0),
        },
      }),
    )
    expect(failures).toEqual([])
    expect(kids.size).toBeGreaterThanOrEqual(ROTATIONS + 1)
    expect(revoked.length).toBeGreaterThan(10)
    expect(minted).toBeGreaterThan(50)
    // The run did go through staggered promotes (a token of origin 0 under a key origin 1 saw as next).
    expect(staggered.size).toBeGreaterThan(0)
  }, 300_000)

  it('keys revoke: the key leaves the JWKS, the edge refuses its tokens within the bound, origins switch', async () => {
    const minted = await clientCredentials(originUrl(0))
    const token = String(minted.body?.access_token)
    const kid = String(decodeProtectedHeader(token).kid)
    expect((await verifyToken(edge.url, token)).outcome.status).toBe(200)

    const startedAt = performance.now()
    await keysRevoke([kid], {
      GATEHOUSE_CONFIG: configPath,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
    })
    const ackedAt = performance.now()
    // The edge: the kid record reaches its revocation filter within the bound.
    await until(
      async () => (await verifyToken(edge.url, token)).outcome.status === 401,
      ENFORCEMENT_DEADLINE_MS,
      'the edge refusing the revoked key',
      50,
    )
    const edgeRefusedMs = performance.now() - ackedAt
    for (const i of [0, 1]) expect((await introspect(originUrl(i), token)).body?.active).toBe(false)
    const jwks = async (base: string) =>
      ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] })
        .keys
    await until(
      async () => !(await jwks(edge.url)).some((k) => k.kid === kid),
      30_000,
      'the revoked key out of the edge JWKS',
      100,
    )
    // Every origin signs with another key once it has read the set (checkSeconds).
    for (const i of [0, 1])
      await until(
        async () => {
          const next = await clientCredentials(originUrl(i))
          const body = next.body?.access_token
          return typeof body === 'string' && decodeProtectedHeader(body).kid !== kid
        },
        30_000,
        `origin ${i} signing with a new key`,
        100,
      )
    console.info(
      JSON.stringify({
        keysRevokeMs: Math.round(ackedAt - startedAt),
        edgeRefusedKeyMs: Math.round(edgeRefusedMs),
      }),
    )
  }, 120_000)
})
