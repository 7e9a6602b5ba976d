import { describe, expect, it } from 'vitest'
import { tokenCacheKey } from '../../../src/cache/cache-key.ts'
import { createTokenCache, type TokenCacheOptions } from '../../../src/cache/token-cache.ts'
import { base64urlText, fakeToken, verified } from './fake-tokens.ts'

const T0 = 1_700_000_000_000 // ms, a whole second
const EXP = T0 / 1000 + 300 // seconds

function setup(options: Omit<TokenCacheOptions, 'now'> = {}) {
  const clock = { ms: T0 }
  const cache = createTokenCache({ ...options, now: () => clock.ms })
  return { cache, clock }
}

describe('expiry', () => {
  it('serves a token until just before exp and never at or after exp (RFC 7519 §4.1.4)', () => {
    const { cache, clock } = setup()
    const token = fakeToken(1)
    cache.set(token, verified('alice', EXP))

    clock.ms = EXP * 1000 - 1
    expect(cache.get(token)?.claims.sub).toBe('alice')
    clock.ms = EXP * 1000
    expect(cache.get(token)).toBeUndefined()
    // Expired entries are dropped, not kept around: going back in time does not revive them.
    expect(cache.stats().size).toBe(0)
    clock.ms = EXP * 1000 - 1
    expect(cache.get(token)).toBeUndefined()
  })

  it('never serves past exp at any later time', () => {
    const { cache, clock } = setup()
    const token = fakeToken(2)
    cache.set(token, verified('bob', EXP))
    clock.ms = EXP * 1000 + 86_400_000
    expect(cache.get(token)).toBeUndefined()
  })

  it('handles a fractional exp exactly', () => {
    const { cache, clock } = setup()
    const token = fakeToken(3)
    cache.set(token, verified('carol', EXP + 0.5))
    clock.ms = EXP * 1000 + 499
    expect(cache.get(token)).toBeDefined()
    clock.ms = EXP * 1000 + 500
    expect(cache.get(token)).toBeUndefined()
  })

  it('caps the lifetime at maxTtlSeconds when that comes first', () => {
    const { cache, clock } = setup({ maxTtlSeconds: 60 })
    const token = fakeToken(4)
    cache.set(token, verified('dave', EXP))
    clock.ms = T0 + 59_999
    expect(cache.get(token)).toBeDefined()
    clock.ms = T0 + 60_000
    expect(cache.get(token)).toBeUndefined()
  })

  it('keeps exp as the bound when maxTtlSeconds is longer', () => {
    const { cache, clock } = setup({ maxTtlSeconds: 3600 })
    const token = fakeToken(5)
    cache.set(token, verified('erin', EXP))
    clock.ms = EXP * 1000
    expect(cache.get(token)).toBeUndefined()
  })

  it('does not store a token that is already expired, or whose exp is not a finite number', () => {
    const { cache } = setup()
    cache.set(fakeToken(6), verified('x', T0 / 1000))
    cache.set(fakeToken(7), verified('x', T0 / 1000 - 10))
    for (const exp of [NaN, Infinity, '9999999999', undefined]) {
      const value = verified('x', 0)
      ;(value.claims as Record<string, unknown>).exp = exp
      cache.set(fakeToken(8), value)
    }
    expect(cache.stats().size).toBe(0)
    expect(cache.get(fakeToken(6))).toBeUndefined()
    expect(cache.get(fakeToken(8))).toBeUndefined()
  })

  it('re-setting a token refreshes its value and expiry', () => {
    const { cache, clock } = setup()
    const token = fakeToken(9)
    cache.set(token, verified('old', EXP))
    cache.set(token, verified('new', EXP + 100))
    clock.ms = EXP * 1000 + 50_000
    expect(cache.get(token)?.claims.sub).toBe('new')
    expect(cache.stats()).toMatchObject({ size: 1, evictions: 0 })
  })
})

describe('bound and LRU order', () => {
  it('never grows past maxEntries when many more tokens are inserted', () => {
    const { cache } = setup({ maxEntries: 100 })
    for (let i = 0; i < 5_000; i++) {
      cache.set(fakeToken(i), verified(`u${i}`, EXP))
      expect(cache.stats().size).toBeLessThanOrEqual(100)
    }
    expect(cache.stats()).toMatchObject({ size: 100, maxEntries: 100, evictions: 4_900 })
    // The 100 most recent survive, everything older was evicted.
    for (let i = 4_900; i < 5_000; i++) expect(cache.get(fakeToken(i))?.claims.sub).toBe(`u${i}`)
    for (let i = 0; i < 4_900; i += 97) expect(cache.get(fakeToken(i))).toBeUndefined()
  })

  it('holds 10,000 entries by default', () => {
    const { cache } = setup()
    for (let i = 0; i < 10_050; i++) cache.set(fakeToken(i), verified('u', EXP))
    expect(cache.stats()).toMatchObject({ size: 10_000, maxEntries: 10_000, evictions: 50 })
  })

  it('evicts the least recently used entry, counting a get as a use', () => {
    const { cache } = setup({ maxEntries: 3 })
    const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((i) => fakeToken(i)) as [
      string,
      string,
      string,
      string,
      string,
    ]
    cache.set(a, verified('a', EXP))
    cache.set(b, verified('b', EXP))
    cache.set(c, verified('c', EXP))
    expect(cache.get(a)).toBeDefined() // order now (LRU first): b, c, a
    cache.set(d, verified('d', EXP)) // evicts b
    expect(cache.get(b)).toBeUndefined()
    expect(cache.get(c)).toBeDefined() // order: a, d, c
    cache.set(e, verified('e', EXP)) // evicts a
    expect(cache.get(a)).toBeUndefined()
    expect(cache.get(d)?.claims.sub).toBe('d')
    expect(cache.get(c)?.claims.sub).toBe('c')
    expect(cache.get(e)?.claims.sub).toBe('e')
    expect(cache.stats()).toMatchObject({ size: 3, evictions: 2 })
  })

  it('counts a re-set as a use', () => {
    const { cache } = setup({ maxEntries: 2 })
    const [a, b, c] = [fakeToken(1), fakeToken(2), fakeToken(3)]
    cache.set(a, verified('a', EXP))
    cache.set(b, verified('b', EXP))
    cache.set(a, verified('a2', EXP))
    cache.set(c, verified('c', EXP)) // evicts b, not a
    expect(cache.get(b)).toBeUndefined()
    expect(cache.get(a)?.claims.sub).toBe('a2')
  })

  it('works with a single entry', () => {
    const { cache } = setup({ maxEntries: 1 })
    cache.set(fakeToken(1), verified('a', EXP))
    cache.set(fakeToken(2), verified('b', EXP))
    expect(cache.get(fakeToken(1))).toBeUndefined()
    expect(cache.get(fakeToken(2))?.claims.sub).toBe('b')
    expect(cache.stats().size).toBe(1)
  })
})

describe('size limit on tokens', () => {
  function tokenOfLength(length: number, seed: number): string {
    const token = fakeToken(seed)
    return `${token.slice(0, 21)}${base64urlText(length - token.length, seed)}${token.slice(21)}`
  }

  it('does not cache tokens over 4 KiB', () => {
    const { cache } = setup()
    const large = tokenOfLength(4097, 1)
    expect(large).toHaveLength(4097)
    cache.set(large, verified('big', EXP))
    expect(cache.get(large)).toBeUndefined()
    expect(cache.stats()).toMatchObject({ size: 0, misses: 1 })
  })

  it('caches a token of exactly 4 KiB', () => {
    const { cache } = setup()
    const token = tokenOfLength(4096, 2)
    cache.set(token, verified('edge', EXP))
    expect(cache.get(token)?.claims.sub).toBe('edge')
  })

  it('honours a configured maxTokenLength', () => {
    const { cache } = setup({ maxTokenLength: 500 })
    const token = tokenOfLength(501, 3)
    cache.set(token, verified('x', EXP))
    expect(cache.stats().size).toBe(0)
  })
})

describe('key collisions are misses, never admissions', () => {
  it('a token sharing the signature tail of a cached token gets nothing', () => {
    const { cache } = setup()
    const signature = base64urlText(86, 42)
    const victim = fakeToken(1, signature)
    // Same signature segment (so the same key), different payload: a forgery attempt.
    const forged = fakeToken(2, signature)
    expect(tokenCacheKey(forged)).toBe(tokenCacheKey(victim))
    cache.set(victim, verified('victim', EXP))

    expect(cache.get(forged)).toBeUndefined()
    // A forged lookup neither evicts nor disturbs the real entry.
    expect(cache.get(victim)?.claims.sub).toBe('victim')
    cache.delete(forged)
    expect(cache.get(victim)?.claims.sub).toBe('victim')
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, size: 1 })
  })

  it('two tokens whose different tails hash to the same key never see each other', () => {
    // Find a true hash collision by brute force (30-bit key: ~40k tries on average).
    const seen = new Map<number, string>()
    let pair: [string, string] | undefined
    for (let seed = 1; pair === undefined; seed++) {
      const token = fakeToken(seed)
      const other = seen.get(tokenCacheKey(token))
      if (other !== undefined && other.slice(-9) !== token.slice(-9)) pair = [other, token]
      else seen.set(tokenCacheKey(token), token)
    }
    const [first, second] = pair
    const { cache } = setup()
    cache.set(first, verified('first', EXP))
    expect(cache.get(second)).toBeUndefined()

    // Storing the second displaces the first: the first becomes a miss, never the second's claims.
    cache.set(second, verified('second', EXP))
    expect(cache.get(first)).toBeUndefined()
    expect(cache.get(second)?.claims.sub).toBe('second')
    expect(cache.stats()).toMatchObject({ size: 1, evictions: 1 })
  })

  it('a prefix, suffix or near copy of a cached token is a miss', () => {
    const { cache } = setup()
    const token = fakeToken(7)
    cache.set(token, verified('real', EXP))
    const last = token.at(-1) === 'A' ? 'B' : 'A'
    for (const probe of [
      token.slice(1),
      token.slice(0, -1),
      `${token}A`,
      `x${token}`,
      `${token.slice(0, -1)}${last}`,
      `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`,
      '',
      'a',
    ]) {
      expect(cache.get(probe)).toBeUndefined()
    }
  })
})

describe('counters and maintenance', () => {
  it('counts hits and misses', () => {
    const { cache } = setup({ maxEntries: 5 })
    const token = fakeToken(1)
    expect(cache.get(token)).toBeUndefined()
    cache.set(token, verified('a', EXP))
    cache.get(token)
    cache.get(token)
    cache.get(fakeToken(2))
    expect(cache.stats()).toEqual({ hits: 2, misses: 2, evictions: 0, size: 1, maxEntries: 5 })
  })

  it('counts an expired lookup as a miss and drops the entry', () => {
    const { cache, clock } = setup()
    cache.set(fakeToken(1), verified('a', EXP))
    clock.ms = EXP * 1000
    cache.get(fakeToken(1))
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 1, size: 0, evictions: 0 })
  })

  it('delete removes one token and clear removes all, keeping the counters', () => {
    const { cache } = setup()
    const [a, b] = [fakeToken(1), fakeToken(2)]
    cache.set(a, verified('a', EXP))
    cache.set(b, verified('b', EXP))
    cache.get(a)
    cache.delete(a)
    expect(cache.get(a)).toBeUndefined()
    expect(cache.get(b)).toBeDefined()
    cache.clear()
    expect(cache.get(b)).toBeUndefined()
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2, size: 0 })
    // Still usable after clear.
    cache.set(a, verified('a', EXP))
    expect(cache.get(a)?.claims.sub).toBe('a')
  })

  it('freezes the stored result so one caller cannot change what the next is served', () => {
    const { cache } = setup()
    const token = fakeToken(1)
    cache.set(token, verified('a', EXP))
    const hit = cache.get(token)!
    expect(() => {
      ;(hit.claims as Record<string, unknown>).sub = 'mallory'
    }).toThrow(TypeError)
    expect(() => (hit.claims.aud as string[]).push('https://other.test')).toThrow(TypeError)
    expect(cache.get(token)?.claims).toMatchObject({ sub: 'a', aud: ['https://api.test'] })
  })
})

describe('options', () => {
  it.each([
    { maxEntries: 0 },
    { maxEntries: -1 },
    { maxEntries: 1.5 },
    { maxEntries: NaN },
    { maxTokenLength: 0 },
    { maxTokenLength: Infinity },
    { maxTtlSeconds: 0 },
    { maxTtlSeconds: -5 },
    { maxTtlSeconds: NaN },
  ])('rejects %o at construction', (options) => {
    expect(() => createTokenCache(options)).toThrow(RangeError)
  })

  it('uses Date.now by default', () => {
    const cache = createTokenCache()
    const token = fakeToken(1)
    cache.set(token, verified('a', Math.floor(Date.now() / 1000) + 300))
    expect(cache.get(token)?.claims.sub).toBe('a')
  })
})

describe('has', () => {
  it('answers as get would, for the identical unexpired string only, with no side effects', () => {
    const { cache, clock } = setup({ maxEntries: 2 })
    const signature = base64urlText(86, 7)
    const [a, b, forged] = [fakeToken(1, signature), fakeToken(2), fakeToken(3, signature)] as [
      string,
      string,
      string,
    ]
    cache.set(a, verified('a', EXP))
    cache.set(b, verified('b', EXP))
    expect([cache.has(a), cache.has(b), cache.has(forged), cache.has(fakeToken(4))]).toEqual([
      true,
      true,
      false,
      false,
    ])
    expect(cache.has(`${a}x`)).toBe(false)
    // No hit or miss counted, and `a` stays least recently used: the next set evicts it.
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, size: 2 })
    cache.set(fakeToken(5), verified('c', EXP))
    expect(cache.has(a)).toBe(false)
    expect(cache.has(b)).toBe(true)
    // At exp it is gone for has as for get, and has removes nothing.
    clock.ms = EXP * 1000
    expect(cache.has(b)).toBe(false)
    expect(cache.stats().size).toBe(2)
  })
})
