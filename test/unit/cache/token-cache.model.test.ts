/**
 * Model-based test: random sequences of set/get/delete/advance-clock run against the cache and against a
 * plain reference model (a Map in LRU order with explicit expiry), comparing every answer and the
 * counters. The token pool includes two tokens with the same signature segment, so key collisions are
 * exercised on every run.
 */
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { tokenCacheKey } from '../../../src/cache/cache-key.ts'
import { createTokenCache } from '../../../src/cache/token-cache.ts'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { base64urlText, fakeToken, verified } from './fake-tokens.ts'

const T0 = 1_700_000_000_000
const MAX_TOKEN_LENGTH = 400

const sharedSignature = base64urlText(86, 99)
const POOL = [
  fakeToken(1),
  fakeToken(2),
  fakeToken(3),
  fakeToken(4),
  fakeToken(5),
  fakeToken(6, sharedSignature),
  fakeToken(7, sharedSignature),
  `${fakeToken(8)}${base64urlText(200, 8)}`, // over MAX_TOKEN_LENGTH: never cached
]

type Op =
  | { kind: 'set'; token: number; expInSeconds: number }
  | { kind: 'get'; token: number }
  | { kind: 'delete'; token: number }
  | { kind: 'advance'; ms: number }

const tokenIndex = fc.integer({ min: 0, max: POOL.length - 1 })
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('set'),
      token: tokenIndex,
      expInSeconds: fc.integer({ min: -5, max: 30 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('get'), token: tokenIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete'), token: tokenIndex }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance'),
      ms: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constantFrom(1, 999, 1000, 5000)),
    }),
  },
)

interface ModelEntry {
  token: string
  value: VerifiedToken
  expiresAt: number
}

/** The reference: one entry per key, Map insertion order as recency, expiry checked on read. */
class Model {
  readonly entries = new Map<number, ModelEntry>()
  hits = 0
  misses = 0
  evictions = 0
  readonly maxEntries: number
  readonly maxTtlMs: number
  constructor(maxEntries: number, maxTtlMs: number) {
    this.maxEntries = maxEntries
    this.maxTtlMs = maxTtlMs
  }

  set(token: string, value: VerifiedToken, now: number): void {
    if (token.length > MAX_TOKEN_LENGTH) return
    const expiresAt = Math.min(value.claims.exp * 1000, now + this.maxTtlMs)
    if (now >= expiresAt) return
    const key = tokenCacheKey(token)
    const old = this.entries.get(key)
    if (old !== undefined) {
      this.entries.delete(key)
      if (old.token !== token) this.evictions++
    } else if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as number
      this.entries.delete(oldest)
      this.evictions++
    }
    this.entries.set(key, { token, value, expiresAt })
  }

  get(token: string, now: number): VerifiedToken | undefined {
    const key = tokenCacheKey(token)
    const entry = this.entries.get(key)
    if (token.length > MAX_TOKEN_LENGTH || entry === undefined || entry.token !== token) {
      this.misses++
      return undefined
    }
    this.entries.delete(key)
    if (now >= entry.expiresAt) {
      this.misses++
      return undefined
    }
    this.entries.set(key, entry)
    this.hits++
    return entry.value
  }

  delete(token: string): void {
    const key = tokenCacheKey(token)
    if (this.entries.get(key)?.token === token) this.entries.delete(key)
  }
}

it('behaves like the reference model for random operation sequences', () => {
  const config = fc.record({
    maxEntries: fc.integer({ min: 1, max: 6 }),
    maxTtlSeconds: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
  })
  fc.assert(
    fc.property(
      config,
      fc.array(op, { maxLength: 150, size: 'max' }),
      ({ maxEntries, maxTtlSeconds }, ops) => {
        let now = T0
        const cache = createTokenCache({
          maxEntries,
          maxTokenLength: MAX_TOKEN_LENGTH,
          now: () => now,
          ...(maxTtlSeconds === undefined ? {} : { maxTtlSeconds }),
        })
        const model = new Model(
          maxEntries,
          maxTtlSeconds === undefined ? Infinity : maxTtlSeconds * 1000,
        )
        let serial = 0
        for (const o of ops) {
          switch (o.kind) {
            case 'set': {
              const token = POOL[o.token]!
              const value = verified(`v${serial++}`, Math.floor(now / 1000) + o.expInSeconds)
              cache.set(token, value)
              model.set(token, value, now)
              break
            }
            case 'get': {
              const token = POOL[o.token]!
              const got = cache.get(token)
              const expected = model.get(token, now)
              expect(got).toBe(expected)
              // Independent of the model: a hit is never at or past the token's exp.
              if (got !== undefined) expect(now).toBeLessThan(got.claims.exp * 1000)
              break
            }
            case 'delete':
              cache.delete(POOL[o.token]!)
              model.delete(POOL[o.token]!)
              break
            case 'advance':
              now += o.ms
              break
          }
          const stats = cache.stats()
          expect(stats.size).toBeLessThanOrEqual(maxEntries)
          expect(stats).toEqual({
            hits: model.hits,
            misses: model.misses,
            evictions: model.evictions,
            size: model.entries.size,
            maxEntries,
          })
        }
      },
    ),
    { numRuns: 500 },
  )
})
