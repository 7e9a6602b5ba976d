import { afterAll, beforeAll } from 'vitest'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { defineStoreContract } from '../../support/store.case.ts'
import { defineScheduleContract } from '../../support/store-schedule.case.ts'

let env: RedisWithBridge
beforeAll(async () => {
  env = await useRedisWithBridge()
})
afterAll(() => env.close())

// A unique prefix per store: every test starts empty, even on a redis shared by the whole run.
defineStoreContract('upstash over real Redis', () =>
  createUpstashStore({ url: env.url, token: env.token, keyPrefix: `t:${crypto.randomUUID()}:` }),
)
defineScheduleContract('upstash over real Redis', () =>
  createUpstashStore({ url: env.url, token: env.token, keyPrefix: `t:${crypto.randomUUID()}:` }),
)
