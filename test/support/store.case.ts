import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isStoreError } from '../../src/store/errors.ts'
import type { Store } from '../../src/store/types.ts'

/**
 * The one contract every Store adapter must meet (openauth/h3 style): called once per adapter with a
 * factory that returns a fresh, empty store. Time never passes here (Redis cannot fake it): TTLs are
 * asserted by value through `ttlMs`; expiry itself is tested with a fake clock on the memory adapter.
 *
 * @example
 * defineStoreContract('memory', () => createMemoryStore())
 */
export function defineStoreContract(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    const fresh = async (): Promise<Store> => makeStore()

    describe('get / set / delete', () => {
      it('round-trips a value and reads null for an absent key', async () => {
        const store = await fresh()
        expect(await store.get('absent')).toBeNull()
        expect(await store.set('k', 'v1')).toBe(true)
        expect(await store.get('k')).toBe('v1')
        expect(await store.set('k', 'v2')).toBe(true)
        expect(await store.get('k')).toBe('v2')
      })

      it('ifAbsent writes only when the key does not exist', async () => {
        const store = await fresh()
        expect(await store.set('k', 'first', { ifAbsent: true })).toBe(true)
        expect(await store.set('k', 'second', { ifAbsent: true })).toBe(false)
        expect(await store.get('k')).toBe('first')
        await store.delete('k')
        expect(await store.set('k', 'third', { ifAbsent: true, ttlSeconds: 30 })).toBe(true)
        expect(await store.get('k')).toBe('third')
      })

      it('setAllIfAbsent writes every pair, without a TTL, only when none of the keys exists', async () => {
        const store = await fresh()
        expect(
          await store.setAllIfAbsent([
            ['a', '1'],
            ['b', '2'],
            ['a', '3'],
          ]),
        ).toBe(true)
        expect([await store.get('a'), await store.get('b')]).toEqual(['3', '2'])
        expect(await store.ttlMs('b')).toBe(Infinity)
        // One existing key, of any type (a string with a TTL, a stream), and nothing is written.
        await store.set('c', 'old', { ttlSeconds: 60 })
        await store.appendToStream('s', { f: 'v' })
        for (const taken of ['c', 's', 'b']) {
          expect(
            await store.setAllIfAbsent([
              ['x', '1'],
              [taken, 'new'],
              ['y', '2'],
            ]),
          ).toBe(false)
          expect([await store.get('x'), await store.get('y')]).toEqual([null, null])
        }
        expect(await store.get('c')).toBe('old')
        expect(await store.readStream('s', '0')).toHaveLength(1)
        // A caller's bug is a TypeError before anything is sent.
        for (const bad of [[], [['k']], [['', 'v']], [['k', 1]], 'k'] as unknown[])
          await expect(store.setAllIfAbsent(bad as [string, string][])).rejects.toBeInstanceOf(
            TypeError,
          )
        expect(await store.get('k')).toBeNull()
      })

      it('setAllIfAbsent with an append writes the pairs and appends the entry in one step, or neither', async () => {
        const store = await fresh()
        const first = await store.appendToStream('s', { f: '0' })
        const append = { stream: 's', fields: { f: '1' }, maxLength: 1 }
        expect(await store.setAllIfAbsent([['a', '1']], { append })).toBe(true)
        expect(await store.get('a')).toBe('1')
        // Trimmed to maxLength and stamped with the trim point, as appendToStream does.
        const entries = await store.readStream('s', '0')
        expect(entries.map((e) => [e.fields, e.trimmedThrough])).toEqual([[{ f: '1' }, first]])
        expect(
          await store.setAllIfAbsent(
            [
              ['b', '2'],
              ['a', 'x'],
            ],
            { append },
          ),
        ).toBe(false)
        expect([await store.get('a'), await store.get('b')]).toEqual(['1', null])
        expect(await store.readStream('s', '0')).toEqual(entries)
        // A first append creates the stream; an append to a key that is no stream writes nothing.
        expect(
          await store.setAllIfAbsent([['c', '3']], {
            append: { stream: 'new', fields: { f: 'v' } },
          }),
        ).toBe(true)
        expect((await store.lastStreamEntry('new'))?.trimmedThrough).toBe('0-0')
        const wrong = await store
          .setAllIfAbsent([['d', '4']], { append: { stream: 'a', fields: { f: 'v' } } })
          .catch((e: unknown) => e)
        expect(isStoreError(wrong)).toBe(true)
        expect(await store.get('d')).toBeNull()
        const bad = (append: {
          stream: string
          fields: Record<string, string>
          maxLength?: number
        }) => store.setAllIfAbsent([['e', '5']], { append })
        await expect(bad({ stream: 'e', fields: { f: 'v' } })).rejects.toBeInstanceOf(TypeError)
        await expect(bad({ stream: 's', fields: {} })).rejects.toBeInstanceOf(TypeError)
        await expect(bad({ stream: 's', fields: { f: 'v' }, maxLength: 0 })).rejects.toBeInstanceOf(
          RangeError,
        )
        expect(await store.get('e')).toBeNull()
      })

      it('setAllIfAbsent is all or nothing under concurrency: of 20 overlapping writes one wins', async () => {
        const store = await fresh()
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.setAllIfAbsent([
              [`own:${i}`, String(i)],
              ['shared', String(i)],
            ]),
          ),
        )
        const winner = results.indexOf(true)
        expect(results.filter(Boolean)).toHaveLength(1)
        expect(await store.get('shared')).toBe(String(winner))
        const own = await Promise.all(results.map((_, i) => store.get(`own:${i}`)))
        expect(own).toEqual(results.map((won, i) => (won ? String(i) : null)))
      })

      it('delete counts only keys that existed, of any type, and accepts none', async () => {
        const store = await fresh()
        await store.set('a', '1')
        await store.appendToStream('s', { f: 'v' })
        expect(await store.delete('a', 'missing', 's')).toBe(2)
        expect(await store.get('a')).toBeNull()
        expect(await store.readStream('s', '0')).toEqual([])
        expect(await store.delete()).toBe(0)
      })

      it('ping answers true', async () => {
        expect(await (await fresh()).ping()).toBe(true)
      })
    })

    describe('TTLs (asserted by value)', () => {
      it('set with ttlSeconds gives a TTL within the asked lifetime; none gives Infinity', async () => {
        const store = await fresh()
        await store.set('short', 'v', { ttlSeconds: 30 })
        const ttl = await store.ttlMs('short')
        expect(ttl).toBeGreaterThan(25_000)
        expect(ttl).toBeLessThanOrEqual(30_000)
        await store.set('forever', 'v')
        expect(await store.ttlMs('forever')).toBe(Infinity)
        expect(await store.ttlMs('absent')).toBeNull()
      })

      it('fractional seconds round up to whole milliseconds', async () => {
        const store = await fresh()
        await store.set('k', 'v', { ttlSeconds: 0.0004 })
        // 0.4 ms asks for 1 ms: the key may already be gone, but never lives longer.
        const ttl = await store.ttlMs('k')
        expect(ttl === null || ttl <= 1).toBe(true)
        await store.set('k2', 'v', { ttlSeconds: 1.5 })
        expect(await store.ttlMs('k2')).toBeLessThanOrEqual(1500)
      })

      it('a plain set over a key with a TTL clears the TTL (Redis SET semantics)', async () => {
        const store = await fresh()
        await store.set('k', 'v', { ttlSeconds: 30 })
        await store.set('k', 'w')
        expect(await store.ttlMs('k')).toBe(Infinity)
      })

      it('expire sets the TTL of an existing key and reports a missing one', async () => {
        const store = await fresh()
        await store.set('k', 'v')
        expect(await store.expire('k', 20)).toBe(true)
        const ttl = await store.ttlMs('k')
        expect(ttl).toBeGreaterThan(15_000)
        expect(ttl).toBeLessThanOrEqual(20_000)
        expect(await store.expire('missing', 20)).toBe(false)
      })
    })

    describe('take (GETDEL)', () => {
      it('returns the value once, then null', async () => {
        const store = await fresh()
        await store.set('code', 'grant', { ttlSeconds: 60 })
        expect(await store.take('code')).toBe('grant')
        expect(await store.take('code')).toBeNull()
        expect(await store.get('code')).toBeNull()
        expect(await store.take('never')).toBeNull()
      })

      it('is single-use under concurrency: of 20 concurrent takes exactly one wins', async () => {
        const store = await fresh()
        await store.set('code', 'grant')
        const results = await Promise.all(Array.from({ length: 20 }, () => store.take('code')))
        expect(results.filter((r) => r === 'grant')).toHaveLength(1)
        expect(results.filter((r) => r === null)).toHaveLength(19)
      })
    })

    describe('compareAndSwap', () => {
      it('creates from absent, replaces on match, refuses on mismatch, deletes with null', async () => {
        const store = await fresh()
        expect(await store.compareAndSwap('k', null, 'a')).toBe(true)
        expect(await store.compareAndSwap('k', null, 'b')).toBe(false)
        expect(await store.compareAndSwap('k', 'x', 'b')).toBe(false)
        expect(await store.get('k')).toBe('a')
        expect(await store.compareAndSwap('k', 'a', 'b')).toBe(true)
        expect(await store.get('k')).toBe('b')
        expect(await store.compareAndSwap('k', 'b', null)).toBe(true)
        expect(await store.get('k')).toBeNull()
        expect(await store.compareAndSwap('k', 'b', 'c')).toBe(false)
        expect(await store.compareAndSwap('k', null, null)).toBe(true)
        expect(await store.get('k')).toBeNull()
      })

      it('does not confuse an empty string with absence', async () => {
        const store = await fresh()
        await store.set('k', '')
        expect(await store.compareAndSwap('k', null, 'x')).toBe(false)
        expect(await store.compareAndSwap('k', '', 'x')).toBe(true)
        expect(await store.get('k')).toBe('x')
      })

      it('sets a new TTL when asked and keeps the current one otherwise', async () => {
        const store = await fresh()
        await store.set('k', 'a', { ttlSeconds: 30 })
        expect(await store.compareAndSwap('k', 'a', 'b')).toBe(true)
        const kept = await store.ttlMs('k')
        expect(kept).toBeGreaterThan(25_000)
        expect(kept).toBeLessThanOrEqual(30_000)
        expect(await store.compareAndSwap('k', 'b', 'c', { ttlSeconds: 300 })).toBe(true)
        expect(await store.ttlMs('k')).toBeGreaterThan(250_000)
        expect(await store.compareAndSwap('fresh', null, 'v')).toBe(true)
        expect(await store.ttlMs('fresh')).toBe(Infinity)
      })

      it('lets exactly one of 20 concurrent swaps from the same value win', async () => {
        const store = await fresh()
        await store.set('family', 'generation-0')
        const attempts = Array.from({ length: 20 }, (_, i) =>
          store.compareAndSwap('family', 'generation-0', `winner-${i}`),
        )
        const results = await Promise.all(attempts)
        expect(results.filter(Boolean)).toHaveLength(1)
        expect(await store.get('family')).toBe(`winner-${results.indexOf(true)}`)
      })
    })

    describe('increment', () => {
      it('counts from 1 and sets the TTL only when the window starts', async () => {
        const store = await fresh()
        expect(await store.increment('rl', 60)).toBe(1)
        expect(await store.increment('rl', 600)).toBe(2)
        expect(await store.increment('rl', 600)).toBe(3)
        const ttl = await store.ttlMs('rl')
        expect(ttl).toBeGreaterThan(55_000)
        expect(ttl).toBeLessThanOrEqual(60_000)
      })

      it('gives a counter that had no TTL one', async () => {
        const store = await fresh()
        await store.set('rl', '41')
        expect(await store.increment('rl', 10)).toBe(42)
        expect(await store.ttlMs('rl')).toBeLessThanOrEqual(10_000)
      })

      it('hands out each count exactly once under concurrency', async () => {
        const store = await fresh()
        const counts = await Promise.all(
          Array.from({ length: 20 }, () => store.increment('rl', 60)),
        )
        expect([...counts].sort((a, b) => a - b)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        )
      })

      it('fails with a StoreError on a value that is not an integer', async () => {
        const store = await fresh()
        await store.set('rl', 'not-a-number')
        await expect(store.increment('rl', 60)).rejects.toSatisfy(
          (e) => isStoreError(e) && e.code === 'command_failed',
        )
        expect(await store.get('rl')).toBe('not-a-number')
      })
    })

    describe('streams', () => {
      it('appends with increasing ids and reads them back in order', async () => {
        const store = await fresh()
        const ids: string[] = []
        for (let i = 0; i < 5; i++)
          ids.push(await store.appendToStream('feed', { jti: `t${i}`, n: `${i}` }))
        const sorted = [...ids].sort(compareIds)
        expect(ids).toEqual(sorted)
        expect(new Set(ids).size).toBe(5)
        const all = await store.readStream('feed', '0')
        expect(all.map((e) => e.id)).toEqual(ids)
        expect(all.map((e) => e.fields)).toEqual(ids.map((_, i) => ({ jti: `t${i}`, n: `${i}` })))
      })

      it('reads strictly after afterId, and at most count entries', async () => {
        const store = await fresh()
        const ids: string[] = []
        for (let i = 0; i < 6; i++) ids.push(await store.appendToStream('feed', { i: `${i}` }))
        const after = await store.readStream('feed', ids[1]!)
        expect(after.map((e) => e.id)).toEqual(ids.slice(2))
        expect((await store.readStream('feed', ids[1]!, 2)).map((e) => e.id)).toEqual(
          ids.slice(2, 4),
        )
        expect(await store.readStream('feed', ids[5]!)).toEqual([])
        expect(await store.readStream('absent', '0')).toEqual([])
      })

      it('trims to about maxLength newest entries and stamps each entry with the trim point', async () => {
        const store = await fresh()
        const ids: string[] = []
        for (let i = 0; i < 300; i++) {
          ids.push(await store.appendToStream('feed', { i: `${i}` }, { maxLength: 10 }))
        }
        const kept = await store.readStream('feed', '0', 1000)
        expect(kept.length).toBeGreaterThanOrEqual(9)
        expect(kept.length).toBeLessThan(300)
        expect(kept.map((e) => e.id)).toEqual(ids.slice(-kept.length))
        // The newest entry names exactly the last id trimmed: the one just before the oldest kept.
        const newest = await store.lastStreamEntry('feed')
        expect(newest?.id).toBe(ids.at(-1))
        expect(newest?.trimmedThrough).toBe(ids[ids.length - kept.length - 1])
        // Trim points never go back, and never reach the entry that carries them.
        const points = kept.map((e) => e.trimmedThrough!)
        expect([...points].sort(compareIds)).toEqual(points)
        for (const entry of kept)
          expect(compareIds(entry.trimmedThrough!, entry.id)).toBeLessThan(0)
      })

      it('stamps 0-0 while nothing was trimmed, and reads the newest entry (null when none)', async () => {
        const store = await fresh()
        expect(await store.lastStreamEntry('feed')).toBeNull()
        const a = await store.appendToStream('feed', { n: '1' }, { maxLength: 5 })
        const b = await store.appendToStream('feed', { n: '2' })
        expect(await store.lastStreamEntry('feed')).toEqual({
          id: b,
          fields: { n: '2' },
          trimmedThrough: '0-0',
        })
        expect((await store.readStream('feed', '0'))[0]).toEqual({
          id: a,
          fields: { n: '1' },
          trimmedThrough: '0-0',
        })
        await store.set('plain', 'v')
        await expect(store.lastStreamEntry('plain')).rejects.toSatisfy(
          (e) => isStoreError(e) && e.code === 'command_failed',
        )
      })

      it('writes a record with the entry: keep leaves an existing value, greater keeps the larger', async () => {
        const store = await fresh()
        const record = (value: string, onExisting: 'keep' | 'greater') => ({
          record: { key: 'rec', value, ttlSeconds: 60, onExisting },
        })
        await store.appendToStream('feed', { n: '1' }, record('first', 'keep'))
        expect(await store.get('rec')).toBe('first')
        const ttl = await store.ttlMs('rec')
        expect(ttl).toBeGreaterThan(55_000)
        expect(ttl).toBeLessThanOrEqual(60_000)
        await store.appendToStream('feed', { n: '2' }, record('second', 'keep'))
        expect(await store.get('rec')).toBe('first')
        await store.delete('rec')
        await store.appendToStream('feed', { n: '3' }, record('100', 'greater'))
        await store.appendToStream('feed', { n: '4' }, record('90', 'greater'))
        expect(await store.get('rec')).toBe('100')
        await store.appendToStream('feed', { n: '5' }, record('120', 'greater'))
        expect(await store.get('rec')).toBe('120')
        await store.set('rec', 'damaged')
        await store.appendToStream('feed', { n: '6' }, record('1', 'greater'))
        expect(await store.get('rec')).toBe('1')
        // Every call appended its entry, whatever happened to the record.
        expect((await store.readStream('feed', '0')).map((e) => e.fields.n)).toEqual([
          '1',
          '2',
          '3',
          '4',
          '5',
          '6',
        ])
      })

      it('writes nothing when the record or the stream cannot be written (all or nothing)', async () => {
        const store = await fresh()
        await store.appendToStream('feed', { n: '1' })
        await store.set('plain', 'v')
        const wrongType = (e: unknown) => isStoreError(e) && e.code === 'command_failed'
        const recordOn = (key: string) => ({
          record: { key, value: '1', ttlSeconds: 60, onExisting: 'keep' as const },
        })
        await expect(store.appendToStream('feed', { n: '2' }, recordOn('feed'))).rejects.toSatisfy(
          wrongType,
        )
        await expect(store.appendToStream('plain', { n: '2' }, recordOn('rec'))).rejects.toSatisfy(
          wrongType,
        )
        expect(await store.get('rec')).toBeNull()
        expect((await store.readStream('feed', '0')).map((e) => e.fields.n)).toEqual(['1'])
      })

      it('keeps hostile field names as plain fields', async () => {
        const store = await fresh()
        await store.appendToStream('feed', { ['__proto__']: 'x', constructor: 'y' })
        const [entry] = await store.readStream('feed', '0')
        expect(Object.getPrototypeOf(entry!.fields)).toBe(Object.prototype)
        expect(Object.entries(entry!.fields)).toEqual([
          ['__proto__', 'x'],
          ['constructor', 'y'],
        ])
      })

      it('refuses to mix types: WRONGTYPE is a StoreError', async () => {
        const store = await fresh()
        await store.appendToStream('feed', { a: '1' })
        await store.set('plain', 'v')
        const wrongType = (e: unknown) => isStoreError(e) && e.code === 'command_failed'
        await expect(store.get('feed')).rejects.toSatisfy(wrongType)
        await expect(store.take('feed')).rejects.toSatisfy(wrongType)
        await expect(store.compareAndSwap('feed', null, 'x')).rejects.toSatisfy(wrongType)
        await expect(store.appendToStream('plain', { a: '1' })).rejects.toSatisfy(wrongType)
        await expect(store.readStream('plain', '0')).rejects.toSatisfy(wrongType)
      })
    })

    describe('scanKeys', () => {
      it('finds every key with the prefix, of any type, across pages, and nothing else', async () => {
        const store = await fresh()
        const wanted = new Set<string>()
        for (let i = 0; i < 250; i++) {
          wanted.add(`rev:jti:${i}`)
          await store.set(`rev:jti:${i}`, '1', { ttlSeconds: 60 })
        }
        await store.appendToStream('rev:stream', { a: '1' })
        wanted.add('rev:stream')
        await store.set('other:rev:x', '1')
        await store.set('re', '1')
        const found = new Set<string>()
        let cursor = '0'
        let pages = 0
        do {
          const page = await store.scanKeys('rev:', cursor, 50)
          for (const key of page.keys) found.add(key)
          cursor = page.cursor
          pages++
        } while (cursor !== '0' && pages < 1000)
        expect(cursor).toBe('0')
        expect(found).toEqual(wanted)
      })

      it('matches the prefix literally, glob characters included', async () => {
        const store = await fresh()
        await store.set('a*[b]?\\:1', 'v')
        await store.set('aX[b]?\\:1', 'v')
        await store.set('a*b:1', 'v')
        const { keys } = await scanAll(store, 'a*[b]?\\:')
        expect(keys).toEqual(['a*[b]?\\:1'])
      })
    })

    describe('values', () => {
      const tricky = [
        '',
        'OK',
        'PONG',
        'T0s=',
        '123',
        '007',
        'true',
        'null',
        '{"a":1}',
        'line\nbreak\r\n',
        'nul\u0000byte',
        'ünïcödé 日本語 👩🏽‍💻 e\u0301',
        '"quoted" \\ back',
      ]

      it.each(tricky)('round-trips %j unchanged', async (value) => {
        const store = await fresh()
        await store.set('k', value)
        expect(await store.get('k')).toBe(value)
        expect(await store.take('k')).toBe(value)
      })

      it('round-trips Unicode keys and a value over 1 MiB', async () => {
        const store = await fresh()
        const big = '🔑x'.repeat(350_000) // 1.75 MB of UTF-8
        await store.set('clé:日本:👩🏽‍💻', big)
        expect(await store.get('clé:日本:👩🏽‍💻')).toBe(big)
      })

      it('round-trips an 8 MiB value (decoded without stack growth)', async () => {
        const store = await fresh()
        const big = `${'0123456789abcdef'.repeat(512 * 1024)}ü` // 8 MiB + 2 bytes of UTF-8
        await store.set('big', big)
        expect(await store.get('big')).toBe(big)
        expect(await store.take('big')).toBe(big)
      }) // ~30 MB through HTTP and Redis: the project's generous default timeout applies

      it('round-trips arbitrary well-formed strings as values and stream fields', async () => {
        const store = await fresh()
        await fc.assert(
          fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 64 }), async (value) => {
            await store.set('prop', value)
            expect(await store.get('prop')).toBe(value)
            const id = await store.appendToStream('prop-feed', { v: value })
            const entries = await store.readStream('prop-feed', '0', 10_000)
            expect(entries.at(-1)).toEqual({ id, fields: { v: value }, trimmedThrough: '0-0' })
          }),
          { numRuns: 40 },
        )
      }) // over a lagging read replica every read after a write waits for it to catch up
    })

    describe('argument checks (before anything is sent)', () => {
      it('rejects bad keys, values, TTLs and stream ids with TypeError/RangeError', async () => {
        const store = await fresh()
        await expect(store.get('')).rejects.toThrow(TypeError)
        await expect(store.set('k', '\uD800')).rejects.toThrow(TypeError)
        await expect(store.set('k', 'v', { ttlSeconds: 0 })).rejects.toThrow(RangeError)
        await expect(store.set('k', 'v', { ttlSeconds: Number.NaN })).rejects.toThrow(RangeError)
        await expect(store.increment('k', -1)).rejects.toThrow(RangeError)
        await expect(store.readStream('s', 'not-an-id')).rejects.toThrow(TypeError)
        await expect(store.readStream('s', '0', 0)).rejects.toThrow(RangeError)
        await expect(store.appendToStream('s', {})).rejects.toThrow(TypeError)
        await expect(store.appendToStream('s', { _trimmed: 'x' })).rejects.toThrow(TypeError)
        const record = { key: 'r', value: 'not-a-number', ttlSeconds: 60, onExisting: 'greater' }
        await expect(store.appendToStream('s', { a: '1' }, { record } as never)).rejects.toThrow(
          TypeError,
        )
        await expect(store.scanKeys('p', 'x')).rejects.toThrow(TypeError)
        expect(await store.get('k')).toBeNull()
      })
    })
  })
}

async function scanAll(store: Store, prefix: string): Promise<{ keys: string[] }> {
  const keys = new Set<string>()
  let cursor = '0'
  do {
    const page = await store.scanKeys(prefix, cursor)
    for (const key of page.keys) keys.add(key)
    cursor = page.cursor
  } while (cursor !== '0')
  return { keys: [...keys].sort() }
}

function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt)
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt)
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1
}
