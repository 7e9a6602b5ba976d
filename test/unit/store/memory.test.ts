import { describe, expect, it } from 'vitest'
import { createMemoryStore } from '../../../src/store/memory.ts'

/** What only the memory adapter can show: time passing (an injected clock) and its size bounds. */
function clocked(start = 1_700_000_000_000) {
  const clock = { now: start }
  return { clock, store: createMemoryStore({ now: () => clock.now }) }
}

describe('memory store: expiry with an injected clock', () => {
  it('a value lives exactly its TTL', async () => {
    const { clock, store } = clocked()
    await store.set('k', 'v', { ttlSeconds: 10 })
    clock.now += 9_999
    expect(await store.get('k')).toBe('v')
    expect(await store.ttlMs('k')).toBe(1)
    clock.now += 1
    expect(await store.get('k')).toBeNull()
    expect(await store.ttlMs('k')).toBeNull()
  })

  it('an expired key is absent for every operation', async () => {
    const { clock, store } = clocked()
    await store.set('code', 'grant', { ttlSeconds: 60 })
    await store.set('family', 'gen-1', { ttlSeconds: 60 })
    clock.now += 60_000
    expect(await store.take('code')).toBeNull()
    expect(await store.compareAndSwap('family', 'gen-1', 'gen-2')).toBe(false)
    expect(await store.compareAndSwap('family', null, 'gen-2')).toBe(true)
    expect(await store.set('code', 'again', { ifAbsent: true })).toBe(true)
    expect(await store.expire('gone', 5)).toBe(false)
  })

  it('a rate-limit window resets when its counter expires', async () => {
    const { clock, store } = clocked()
    expect(await store.increment('rl', 60)).toBe(1)
    clock.now += 30_000
    expect(await store.increment('rl', 60)).toBe(2)
    clock.now += 30_000
    expect(await store.increment('rl', 60)).toBe(1)
    expect(await store.ttlMs('rl')).toBe(60_000)
  })

  it('compareAndSwap keeps the remaining TTL unless given a new one', async () => {
    const { clock, store } = clocked()
    await store.set('k', 'a', { ttlSeconds: 10 })
    clock.now += 4_000
    await store.compareAndSwap('k', 'a', 'b')
    expect(await store.ttlMs('k')).toBe(6_000)
    await store.compareAndSwap('k', 'b', 'c', { ttlSeconds: 100 })
    expect(await store.ttlMs('k')).toBe(100_000)
  })

  it('expire shortens or extends a live key', async () => {
    const { clock, store } = clocked()
    await store.set('k', 'v')
    await store.expire('k', 1)
    clock.now += 1_000
    expect(await store.get('k')).toBeNull()
  })

  it('stream ids stay increasing when the clock stands still or goes back', async () => {
    const { clock, store } = clocked(5_000)
    const a = await store.appendToStream('s', { n: '1' })
    const b = await store.appendToStream('s', { n: '2' })
    clock.now = 1_000
    const c = await store.appendToStream('s', { n: '3' })
    expect([a, b, c]).toEqual(['5000-0', '5000-1', '5000-2'])
    clock.now = 6_000
    expect(await store.appendToStream('s', { n: '4' })).toBe('6000-0')
    expect((await store.readStream('s', '5000')).map((e) => e.id)).toEqual([
      '5000-1',
      '5000-2',
      '6000-0',
    ])
  })
})

describe('memory store: bounds', () => {
  it('holds at most maxKeys, sweeping expired keys before evicting the least recently written', async () => {
    const clock = { now: 0 }
    const store = createMemoryStore({ now: () => clock.now, maxKeys: 3 })
    await store.set('old', '1')
    await store.set('short', '2', { ttlSeconds: 1 })
    await store.set('new', '3')
    clock.now = 1_000
    await store.set('newest', '4') // the expired key makes room
    expect(await store.get('old')).toBe('1')
    await store.set('old', '1b') // rewriting refreshes its place
    await store.set('another', '5') // evicts 'new', now the least recently written
    expect(await store.get('new')).toBeNull()
    expect(await store.get('old')).toBe('1b')
    expect(await store.get('newest')).toBe('4')
    expect(await store.get('another')).toBe('5')
  })

  it('caps every stream at maxStreamLength, newest kept', async () => {
    const store = createMemoryStore({ maxStreamLength: 5 })
    for (let i = 0; i < 12; i++) await store.appendToStream('s', { i: `${i}` })
    const entries = await store.readStream('s', '0')
    expect(entries.map((e) => e.fields.i)).toEqual(['7', '8', '9', '10', '11'])
  })

  it('validates its options at construction', () => {
    expect(() => createMemoryStore({ maxKeys: 0 })).toThrow(RangeError)
    expect(() => createMemoryStore({ maxStreamLength: 1.5 })).toThrow(RangeError)
  })

  it('returns copies: mutating a read entry does not change the stream', async () => {
    const store = createMemoryStore()
    await store.appendToStream('s', { a: '1' })
    const [entry] = await store.readStream('s', '0')
    entry!.fields.a = 'changed'
    expect((await store.readStream('s', '0'))[0]!.fields.a).toBe('1')
  })
})
