import { afterAll, beforeAll } from 'vitest'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { defineDpopReplayContract } from '../../support/dpop-replay.case.ts'
import { deleteKeysUnder, useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { defineStoreContract } from '../../support/store.case.ts'
import { defineScheduleContract } from '../../support/store-schedule.case.ts'

let env: RedisWithBridge
beforeAll(async () => {
  env = await useRedisWithBridge()
})
const prefixes: string[] = []
afterAll(async () => {
  await deleteKeysUnder(env, prefixes) // a real database (npm run test:upstash) keeps nothing
  await env.close()
})

// A unique prefix per store: every test starts empty, even on a redis shared by the whole run.
const fresh = () => {
  const keyPrefix = `gatehouse-test:${crypto.randomUUID()}:`
  prefixes.push(keyPrefix)
  return createUpstashStore({ url: env.url, token: env.token, keyPrefix })
}
defineStoreContract('upstash over real Redis', fresh)
defineScheduleContract('upstash over real Redis', fresh)
defineDpopReplayContract('upstash over real Redis', fresh)
