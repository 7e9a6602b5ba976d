/**
 * `/readyz` against real stores: the memory store, and the production Upstash adapter over the REST
 * bridge in front of a real redis-server that the test stops to make the store unreachable.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createReadiness } from '../../../src/http/readiness.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { startUpstashBridge, type UpstashBridge } from '../../../scripts/upstash-bridge.ts'
import { startRedisServer, type RedisServer } from '../../support/redis.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('createReadiness', () => {
  it('rejects bad options at construction', () => {
    const store = createMemoryStore()
    // @ts-expect-error -- a missing store is a programming error
    expect(() => createReadiness({ draining: () => false })).toThrow(/store/)
    // @ts-expect-error -- draining must be a function
    expect(() => createReadiness({ store, draining: false })).toThrow(/draining/)
    expect(() => createReadiness({ store, draining: () => false, timeoutMs: 0 })).toThrow(
      /timeoutMs/,
    )
  })

  it('is ready with a reachable store and not ready once draining', async () => {
    let draining = false
    const app = createReadiness({ store: createMemoryStore(), draining: () => draining })
    const ready = await app.request('/readyz')
    expect(ready.status).toBe(200)
    expect(ready.headers.get('cache-control')).toBe('no-store')
    expect(await ready.json()).toEqual({ status: 'ready' })
    draining = true
    const drained = await app.request('/readyz')
    expect(drained.status).toBe(503)
    expect(await drained.json()).toEqual({ status: 'not_ready', reason: 'draining' })
  })

  it('is not ready when the store does not answer within the deadline', async () => {
    vi.useFakeTimers()
    const app = createReadiness({
      store: { ping: () => new Promise<boolean>(() => {}) },
      draining: () => false,
      timeoutMs: 500,
    })
    const pending = app.request('/readyz')
    await vi.advanceTimersByTimeAsync(500)
    const res = await pending
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ status: 'not_ready', reason: 'store_unreachable' })
  })

  it('is not ready, not a 500, when a broken store throws', async () => {
    const app = createReadiness({
      store: { ping: () => Promise.reject(new Error('broken')) },
      draining: () => false,
    })
    expect((await app.request('/readyz')).status).toBe(503)
  })
})

describe('readiness over the real Upstash bridge', () => {
  // Our own redis-server (not the run's shared one): this test stops it, leaving the bridge up.
  let redis: RedisServer
  let bridge: UpstashBridge
  const token = `test-${crypto.randomUUID()}`
  beforeAll(async () => {
    redis = await startRedisServer()
    bridge = await startUpstashBridge({ redisPort: redis.port, token })
  })
  afterAll(async () => {
    await bridge.close()
    await redis.close()
  })

  it('turns 503 store_unreachable when redis stops', async () => {
    const store = createUpstashStore({ url: bridge.url, token })
    const app = createReadiness({ store, draining: () => false, timeoutMs: 2000 })
    expect((await app.request('/readyz')).status).toBe(200)
    await redis.close()
    const res = await app.request('/readyz')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ status: 'not_ready', reason: 'store_unreachable' })
  })
})
