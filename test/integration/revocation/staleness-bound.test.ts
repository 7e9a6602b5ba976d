/**
 * End to end, revoke → denied at an edge isolate, against real Redis through the Upstash REST bridge
 * (or, under `npm run test:upstash`, against a real Upstash database) and the production store adapter, with the real verifier path (keys, core verifier, L1 cache) and
 * the revocation check wrapped around it as the entries wire it. The bridge runs with replica lag
 * on: plain reads come from a replica 100 ms behind the primary, as Upstash's read replicas can be,
 * and the origin (the writer) and the edge are different clients, each with its own sync token. The
 * edge runs on a fake clock that advances 50 ms per simulated request, so the delay is measured in
 * simulated time and asserted against the documented bound (README in src/revocation/). A
 * background sync is modelled as finishing within one such step; the wall-clock time of the whole
 * path is measured and printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signTestToken } from '../../fixtures/keys.ts'
import { deleteKeysUnder, useLaggingL2, type RedisWithBridge } from '../../support/redis.ts'
import {
  edgeOver,
  msUntilDenied,
  STEP_MS,
  SYNC_SECONDS,
  SYNC_TIMEOUT_MS,
  type Edge,
} from './edge-harness.ts'

/** The bridge's replica lag here; under `npm run test:upstash`, whatever Upstash's replicas do. */
const REPLICA_LAG_MS = 100

let env: RedisWithBridge
const prefixes: string[] = []
beforeAll(async () => {
  env = await useLaggingL2(REPLICA_LAG_MS)
})
afterAll(async () => {
  await deleteKeysUnder(env, prefixes)
  await env.close()
})

const edge = (): Promise<Edge> => edgeOver(env, prefixes)

const bound = SYNC_SECONDS + SYNC_TIMEOUT_MS / 1000
const wall: number[] = []
const simulated: number[] = []
const syncRtt: number[] = []

describe('revocation staleness bound, end to end (real Redis, Upstash store, WASM filter)', () => {
  it('loads the published snapshot: a token revoked before the isolate started is denied', async () => {
    const e = await edge()
    const token = await signTestToken({ jti: 'already-revoked' }, { now: e.clock() / 1000 })
    expect(await e.request(token)).toBe(false)
    expect(e.sync.status()).toMatchObject({ implementation: 'wasm-simd', stale: false })
  })

  for (const phaseMs of [0, 500, 1000, 1500, 1950]) {
    it(`denies a revoked jti within ${bound} s (revoked ${phaseMs} ms after a sync)`, async () => {
      const e = await edge()
      const token = await signTestToken({}, { now: e.clock() / 1000 })
      const claims = (await e.verifier.verify(token)).claims
      expect(await e.request(token)).toBe(true) // now an L1 hit, still checked for revocation
      e.clock.advance(phaseMs)
      const revokedAt = e.clock()
      const started = performance.now()
      await e.writer.revokeToken(claims.jti as string, claims.exp)
      const delayMs = await msUntilDenied(e, token, revokedAt)
      wall.push(performance.now() - started)
      simulated.push(delayMs)
      expect(delayMs).toBeLessThanOrEqual(bound * 1000)
      expect(delayMs).toBeGreaterThanOrEqual(SYNC_SECONDS * 1000 - phaseMs - STEP_MS)
    })
  }

  it('worst case: the revocation lands while a sync is already in flight', async () => {
    const e = await edge()
    const token = await signTestToken({ sid: 'session-1' }, { now: e.clock() / 1000 })
    expect(await e.request(token)).toBe(true)
    e.clock.advance(SYNC_SECONDS * 1000)
    expect(await e.request(token)).toBe(true) // starts a background sync, not awaited
    const revokedAt = e.clock()
    const started = performance.now()
    await e.writer.revokeSession('session-1')
    await e.settle()
    const delayMs = await msUntilDenied(e, token, revokedAt)
    wall.push(performance.now() - started)
    simulated.push(delayMs)
    expect(delayMs).toBeLessThanOrEqual(bound * 1000)
  })

  it('a subject revocation (not-before) reaches the edge within the bound; newer tokens pass', async () => {
    const e = await edge()
    const now = e.clock() / 1000
    const old = await signTestToken({ sub: 'user-7' }, { now: Math.floor(now) - 10 })
    expect(await e.request(old)).toBe(true)
    const revokedAt = e.clock()
    const notBefore = await e.writer.revokeSubject('user-7', Math.floor(now) - 5)
    expect(await msUntilDenied(e, old, revokedAt)).toBeLessThanOrEqual(bound * 1000)
    const fresh = await signTestToken({ sub: 'user-7' }, { now: notBefore })
    expect(await e.request(fresh)).toBe(true)
  })

  it('an isolate idle past the bound syncs before deciding: denial is immediate', async () => {
    const e = await edge()
    const token = await signTestToken({}, { now: e.clock() / 1000 })
    const { claims } = await e.verifier.verify(token)
    e.clock.advance(60_000)
    await e.writer.revokeToken(claims.jti as string, claims.exp)
    expect(await e.request(token)).toBe(false)
  })

  it('one sync round trip (XRANGE through the REST bridge) succeeds well inside the timeout', async () => {
    const e = await edge()
    await e.sync.syncNow()
    for (let i = 0; i < 20; i++) {
      await e.writer.revokeSession(`s-${i}`)
      e.clock.advance(SYNC_SECONDS * 1000)
      const started = performance.now()
      expect(await e.sync.syncNow()).toBe(true)
      syncRtt.push(performance.now() - started)
      expect(e.sync.has(`sid:s-${i}`)).toBe(true)
    }
  })

  afterAll(() => {
    const summary = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b)
      const median = sorted[Math.floor(sorted.length / 2)] ?? NaN
      return `median ${median.toFixed(1)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms (n=${xs.length})`
    }
    console.info(
      `revocation e2e: bound ${bound} s; revoke → denied in simulated time ${summary(simulated)}; ` +
        `wall time of the whole path ${summary(wall)}; one sync round trip ${summary(syncRtt)}`,
    )
  })
})
