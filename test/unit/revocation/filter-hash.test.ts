import { describe, expect, it } from 'vitest'
import { xxh64 } from '../../../src/revocation/filter-hash.ts'

function hex(text: string): string {
  const bytes = new TextEncoder().encode(text)
  const out = new Uint32Array(2)
  xxh64(bytes, bytes.length, out)
  return (
    (out[0] as number).toString(16).padStart(8, '0') +
    (out[1] as number).toString(16).padStart(8, '0')
  )
}

describe('xxh64 (TypeScript, 32-bit arithmetic)', () => {
  // Reference values of XXH64 with seed 0 (xxHash's own test vectors and python-xxhash's README).
  it.each([
    ['', 'ef46db3751d8e999'],
    ['a', 'd24ec4f1a98c6e5b'],
    ['abc', '44bc2cf5ad770999'],
    ['Nobody inspects the spammish repetition', 'fbcea83c8a378bf1'],
  ])('hashes %j to the reference value', (text, expected) => {
    expect(hex(text)).toBe(expected)
  })

  it('hashes only the first `length` bytes', () => {
    const bytes = new TextEncoder().encode('abcXYZ')
    const out = new Uint32Array(2)
    xxh64(bytes, 3, out)
    expect([...out]).toEqual([0x44bc2cf5, 0xad770999])
  })
})
