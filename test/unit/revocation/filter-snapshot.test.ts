import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  RevocationSnapshotError,
  encodeSnapshot,
  parseSnapshot,
  parseStreamId,
} from '../../../src/revocation/filter-snapshot.ts'

function validSnapshot(numBlocks = 2): Uint8Array {
  const blocks = new Uint8Array(numBlocks * 32)
  for (let i = 0; i < blocks.length; i++) blocks[i] = (i * 7) & 0xff
  return encodeSnapshot(blocks, 5, '1700000000000-3')
}

function withByte(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice()
  copy[offset] = value
  return copy
}

describe('revocation snapshot format', () => {
  it('round-trips blocks, id count and stream id', () => {
    const snapshot = validSnapshot(3)
    expect(snapshot.length).toBe(32 + 3 * 32)
    expect([...snapshot.subarray(0, 4)]).toEqual([0x47, 0x48, 0x53, 0x42]) // "GHSB"
    const parsed = parseSnapshot(snapshot)
    expect(parsed.numBlocks).toBe(3)
    expect(parsed.numIds).toBe(5)
    expect(parsed.streamId).toBe('1700000000000-3')
    expect([...parsed.blocks]).toEqual([...snapshot.subarray(32)])
  })

  it('keeps the full u64 range of stream id parts', () => {
    const max = '18446744073709551615-18446744073709551615'
    expect(parseSnapshot(encodeSnapshot(new Uint8Array(32), 0, max)).streamId).toBe(max)
    expect(parseSnapshot(encodeSnapshot(new Uint8Array(32), 0, '0-0')).streamId).toBe('0-0')
  })

  it('parses a snapshot that sits at an offset inside a larger buffer', () => {
    const snapshot = validSnapshot()
    const big = new Uint8Array(snapshot.length + 5)
    big.set(snapshot, 5)
    expect(parseSnapshot(big.subarray(5)).streamId).toBe('1700000000000-3')
  })

  it.each([
    ['an empty input', new Uint8Array(0)],
    ['a header without blocks', validSnapshot().subarray(0, 32)],
    ['a truncated block', validSnapshot().subarray(0, 32 + 2 * 32 - 1)],
    ['a trailing byte', new Uint8Array([...validSnapshot(), 0])],
    ['a bad magic', withByte(validSnapshot(), 0, 0x00)],
    ['an unknown version', withByte(validSnapshot(), 4, 2)],
    ['an unknown hash', withByte(validSnapshot(), 5, 0)],
    ['non-zero reserved bytes', withByte(validSnapshot(), 7, 1)],
    ['a zero block count', withByte(withByte(validSnapshot(), 8, 0), 9, 0)],
    ['a huge block count', withByte(validSnapshot(), 11, 0xff)],
    ['a block count above the length', withByte(validSnapshot(), 8, 3)],
  ])('rejects %s with RevocationSnapshotError', (_name, bytes) => {
    expect(() => parseSnapshot(bytes)).toThrow(RevocationSnapshotError)
  })

  it('rejects a non-Uint8Array', () => {
    expect(() => parseSnapshot('GHSB' as unknown as Uint8Array)).toThrow(RevocationSnapshotError)
    expect(() => parseSnapshot(null as unknown as Uint8Array)).toThrow(RevocationSnapshotError)
  })

  it('never fails on random bytes with anything but RevocationSnapshotError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseSnapshot(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(RevocationSnapshotError)
        }
      }),
    )
  })

  it('accepts or cleanly rejects every single-byte corruption of a valid header', () => {
    const snapshot = validSnapshot()
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 255 }),
        (at, value) => {
          try {
            const parsed = parseSnapshot(withByte(snapshot, at, value))
            expect(parsed.blocks.length).toBe(parsed.numBlocks * 32)
          } catch (error) {
            expect(error).toBeInstanceOf(RevocationSnapshotError)
          }
        },
      ),
    )
  })

  it('does not echo input in its messages', () => {
    const bytes = new TextEncoder().encode('secret-token-'.repeat(10))
    expect(() => parseSnapshot(bytes)).toThrow(/^(?!.*secret)/)
  })
})

describe('stream ids', () => {
  it('splits <ms>-<seq> into u64 parts', () => {
    expect(parseStreamId('1700000000000-3')).toEqual([1700000000000n, 3n])
  })

  it.each(['', '1', '1-', '-1', '1-2-3', 'a-1', '1-1 ', ' 1-1', '18446744073709551616-0', '1.5-0'])(
    'rejects %j',
    (streamId) => {
      expect(() => parseStreamId(streamId)).toThrow(RevocationSnapshotError)
    },
  )
})
