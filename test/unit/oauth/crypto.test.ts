/**
 * The OAuth core's random values: the pooled `randomToken` hands out base64url of exactly the asked
 * number of bytes, never the same bytes twice across pool refills, and larger requests bypass the pool.
 */
import { describe, expect, it } from 'vitest'
import { decodeBase64Url } from '../../../src/core/base64url.ts'
import { randomToken } from '../../../src/core/oauth/crypto.ts'

describe('randomToken', () => {
  it('encodes exactly the requested bytes as canonical base64url', () => {
    for (const [bytes, length] of [
      [16, 22],
      [32, 43],
      [1, 2],
      [5000, 6667],
    ] as const) {
      const token = randomToken(bytes)
      expect(token).toHaveLength(length)
      expect(decodeBase64Url(token)).toHaveLength(bytes)
    }
  })

  it('never repeats a value across many pool refills', () => {
    // 3,000 × 16 bytes is about twelve 4 KiB refills; a reused slice would show up as a duplicate.
    const tokens = Array.from({ length: 3000 }, () => randomToken(16))
    expect(new Set(tokens).size).toBe(tokens.length)
    // 128-bit values: an all-zero one means a consumed (wiped) slice was handed out.
    expect(tokens).not.toContain('AAAAAAAAAAAAAAAAAAAAAA')
  })

  it('looks uniformly random over many draws (each bit set about half the time)', () => {
    const counts = new Array<number>(256).fill(0)
    const draws = 2000
    for (let i = 0; i < draws; i++) {
      const bytes = decodeBase64Url(randomToken(32))!
      for (let b = 0; b < 32; b++)
        for (let bit = 0; bit < 8; bit++) if ((bytes[b]! >> bit) & 1) counts[b * 8 + bit]!++
    }
    // Binomial(2000, 0.5): mean 1000, sd ≈ 22; ±200 is > 8 sd, so a false failure is negligible.
    for (const count of counts) expect(Math.abs(count - draws / 2)).toBeLessThan(200)
  })
})
