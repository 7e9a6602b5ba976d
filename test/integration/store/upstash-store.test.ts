import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectResp, type RespConnection } from '../../../scripts/lib/resp.ts'
import { isStoreError } from '../../../src/store/errors.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { createUpstashTransport } from '../../../src/store/upstash-http.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'

/** What only the upstash adapter has: key prefixes, credentials, a backend that can go away. */
let env: RedisWithBridge
let redis: RespConnection
beforeAll(async () => {
  env = await useRedisWithBridge()
  redis = await connectResp({ port: env.redisPort })
})
afterAll(async () => {
  await redis.close()
  await env.close()
})

describe('upstash store', () => {
  it('prefixes every key and stream, gh: by default, so deployments can share a database', async () => {
    const id = crypto.randomUUID()
    const a = createUpstashStore({ url: env.url, token: env.token })
    const b = createUpstashStore({ url: env.url, token: env.token, keyPrefix: `other:` })
    await a.set(`k:${id}`, 'from-a')
    await a.appendToStream(`s:${id}`, { f: 'v' })
    expect((await redis.call('GET', `gh:k:${id}`))?.toString()).toBe('from-a')
    expect(await redis.call('XLEN', `gh:s:${id}`)).toBe(1)
    expect(await b.get(`k:${id}`)).toBeNull()
    await b.set(`k:${id}`, 'from-b')
    expect(await a.get(`k:${id}`)).toBe('from-a')
    await a.delete(`k:${id}`, `s:${id}`)
    await b.delete(`k:${id}`)
  })

  it('turns a wrong token into StoreError unauthorized, and ping into false', async () => {
    const store = createUpstashStore({ url: env.url, token: 'not-the-token' })
    const error = await store.get('k').catch((e: unknown) => e)
    expect(isStoreError(error) && error.code).toBe('unauthorized')
    expect(String(error)).not.toContain('not-the-token')
    expect(await store.ping()).toBe(false)
  })

  it('turns an unreachable backend into StoreError unavailable without retry loops', async () => {
    const store = createUpstashStore({ url: 'http://127.0.0.1:1', token: env.token })
    const error = await store.set('k', 'v').catch((e: unknown) => e)
    expect(isStoreError(error) && error.code).toBe('unavailable')
    expect(String(error)).not.toContain(env.token)
    expect(await store.ping()).toBe(false)
  })

  it('runs the @upstash/redis client over the same transport (its Requester)', async () => {
    const redis = new Redis(createUpstashTransport({ url: env.url, token: env.token }))
    const key = `requester:${crypto.randomUUID()}`
    await redis.set(key, { n: 1 }, { ex: 60 })
    expect(await redis.get(key)).toEqual({ n: 1 })
    const [, count] = await redis.pipeline().set(`${key}:c`, 5).incr(`${key}:c`).exec()
    expect(count).toBe(6)
    await expect(redis.incr(key)).rejects.toThrow(/not an integer/)
    await redis.del(key, `${key}:c`)
    // Its errors come from our transport: a wrong token is a StoreError that names nothing.
    const wrong = new Redis(createUpstashTransport({ url: env.url, token: 'not-the-token' }))
    const error = await wrong.get(key).catch((e: unknown) => e)
    expect(isStoreError(error) && error.code).toBe('unauthorized')
    expect(String(error)).not.toContain(key)
  })
})
