/**
 * The sign-in limiter on the memory store with a fake clock: a burst over the limit is refused, the
 * refusal's wait is exact (one more attempt fits after it, not a second before), and a boundary
 * burst cannot get twice the limit through as a fixed window would let it.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLoginLimiter } from '../../../src/core/oauth/login-limits.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'

function scenario(startMs: number) {
  let now = startMs
  const store = createMemoryStore({ now: () => now })
  const limiter = createLoginLimiter({ store, clock: () => now })
  return { limiter, advance: (ms: number) => void (now += ms) }
}

describe('login limiter', () => {
  it('refuses past the limit and says exactly how long to wait', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 20 }),
        async (limit, windowSeconds, startMs, extra) => {
          const rule = { limit, windowSeconds }
          const replay = async () => {
            const s = scenario(1_700_000_000_000 + startMs)
            let last
            for (let i = 0; i < limit + extra; i++) last = await s.limiter.hit('user', 'u', rule)
            return { s, last: last! }
          }
          const { s, last } = await replay()
          expect(last.allowed).toBe(false)
          if (last.allowed) return
          const wait = last.retryAfterSeconds
          expect(wait).toBeGreaterThanOrEqual(1)
          expect(wait).toBeLessThanOrEqual(2 * windowSeconds)
          s.advance(wait * 1000)
          expect((await s.limiter.hit('user', 'u', rule)).allowed).toBe(true)
          if (wait > 1) {
            const early = await replay()
            early.s.advance((wait - 1) * 1000)
            expect((await early.s.limiter.hit('user', 'u', rule)).allowed).toBe(false)
          }
        },
      ),
      // [3, 147, 0, 3]: 6 attempts at once against 3 per 147 s; with floating weights the wait came
      // out 121 s where 120 s is exact.
      { numRuns: 150, examples: [[3, 147, 0, 3]] },
    )
  })

  it('does not let a burst at a window boundary through twice', async () => {
    const windowMs = 60_000
    const s = scenario(1_700_000_040_000 - (1_700_000_040_000 % windowMs) + windowMs - 1000)
    const rule = { limit: 5, windowSeconds: 60 }
    const first = await Promise.all(Array.from({ length: 5 }, () => s.limiter.hit('ip', 'a', rule)))
    expect(first.every((d) => d.allowed)).toBe(true)
    s.advance(2000) // just past the boundary: a fixed window would start again from zero
    expect((await s.limiter.hit('ip', 'a', rule)).allowed).toBe(false)
  })

  it('keeps kinds and ids apart', async () => {
    const s = scenario(1_700_000_000_000)
    const rule = { limit: 1, windowSeconds: 60 }
    expect((await s.limiter.hit('ip', 'a', rule)).allowed).toBe(true)
    expect((await s.limiter.hit('ip', 'b', rule)).allowed).toBe(true)
    expect((await s.limiter.hit('user', 'a', rule)).allowed).toBe(true)
    expect((await s.limiter.hit('ip', 'a', rule)).allowed).toBe(false)
  })
})
