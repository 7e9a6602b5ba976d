/**
 * Revocation against a read replica that falls behind (the bridge's replica-lag mode, held behind at
 * will): the edge's stream reads go to the primary, and its L2 confirmations carry its sync token, so
 * a lagging replica can delay a confirmation but never let a revoked token through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signTestToken } from '../../fixtures/keys.ts'
import { startRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { edgeOver } from './edge-harness.ts'

let env: RedisWithBridge
beforeAll(async () => {
  env = await startRedisWithBridge({ replicaLagMs: 100 })
})
afterAll(() => env.close())

describe('revocation with a lagging read replica', () => {
  it('with the read replica held behind, a revoked token is never let through: it waits, then is denied', async () => {
    const e = await edgeOver(env, [])
    const token = await signTestToken({}, { now: e.clock() / 1000 })
    const { claims } = await e.verifier.verify(token)
    expect(await e.request(token)).toBe(true)
    env.replicaLink!.hold() // the replica now misses every write until released
    try {
      await e.writer.revokeToken(claims.jti as string, claims.exp)
      e.clock.advance(60_000) // an idle isolate: the next request syncs first (from the primary)
      const denied = e.request(token) // its L2 confirmation waits for the replica to catch up
      env.replicaLink!.release()
      expect(await denied).toBe(false)
    } finally {
      env.replicaLink!.release()
    }
  })
})
