import { describe, expect, it } from 'vitest'
import {
  MAX_BLOCKS,
  sbbfBlockCount,
  sbbfFalsePositiveRate,
} from '../../../src/revocation/filter-layout.ts'

describe('SBBF sizing', () => {
  it('sizes 1M ids at 1% near 10.5 bits per id (DESIGN.md) and under 2 MB', () => {
    const blocks = sbbfBlockCount(1_000_000, 0.01)
    const bitsPerId = (blocks * 256) / 1_000_000
    expect(bitsPerId).toBeGreaterThan(10.4)
    expect(bitsPerId).toBeLessThan(10.8)
    expect(blocks * 32).toBeLessThanOrEqual(2 * 1024 * 1024)
    expect(sbbfFalsePositiveRate(1_000_000, blocks)).toBeLessThanOrEqual(0.01)
  })

  it('returns the smallest block count meeting the (margined) target', () => {
    const blocks = sbbfBlockCount(50_000, 0.001)
    expect(sbbfFalsePositiveRate(50_000, blocks)).toBeLessThanOrEqual(0.001 * 0.98)
    expect(sbbfFalsePositiveRate(50_000, blocks - 1)).toBeGreaterThan(0.001 * 0.98)
  })

  it('models a falling rate as blocks grow', () => {
    expect(sbbfFalsePositiveRate(1000, 10)).toBeGreaterThan(sbbfFalsePositiveRate(1000, 20))
    expect(sbbfFalsePositiveRate(0, 10)).toBe(0)
  })

  it('refuses a filter larger than MAX_BLOCKS', () => {
    expect(() => sbbfBlockCount(MAX_BLOCKS * 100, 1e-6)).toThrow(RangeError)
  })
})
