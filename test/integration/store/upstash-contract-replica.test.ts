import { afterAll, beforeAll } from 'vitest'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { startRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { defineStoreContract } from '../../support/store.case.ts'

/**
 * The same contract with the bridge's reads served by a replica 150 ms behind the primary, as
 * Upstash's read replicas can be: it holds only because the adapter presents the sync token of its
 * last response (read-your-writes). Drop the token and reads after writes come back stale.
 */
let env: RedisWithBridge
beforeAll(async () => {
  env = await startRedisWithBridge({ replicaLagMs: 150 })
})
afterAll(() => env.close())

defineStoreContract('upstash over a lagging read replica', () =>
  createUpstashStore({ url: env.url, token: env.token, keyPrefix: `t:${crypto.randomUUID()}:` }),
)
