import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  RevocationSnapshotError,
  createRevocationFilter,
  loadRevocationFilter,
} from '../../../src/revocation/filter.ts'

describe('createRevocationFilter (TypeScript fallback)', () => {
  it('reports the fallback and sizes itself from the options', () => {
    const filter = createRevocationFilter({ expectedItems: 1000, falsePositiveRate: 0.01 })
    expect(filter.implementation).toBe('typescript')
    expect(filter.byteLength).toBe(filter.blockCount * 32)
    expect(filter.blockCount).toBeGreaterThan(30)
    expect(filter.insertedCount).toBe(0)
  })

  it('never forgets an id it was given (no false negatives)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 80 }), { maxLength: 300 }),
        (ids) => {
          const filter = createRevocationFilter({ expectedItems: 300 })
          filter.addMany(ids)
          for (const id of ids) expect(filter.has(id)).toBe(true)
          expect(filter.insertedCount).toBe(ids.length)
        },
      ),
      { numRuns: 50 },
    )
  })

  it('answers no for ids it was not given, within the configured rate', () => {
    const filter = createRevocationFilter({ expectedItems: 20_000, falsePositiveRate: 0.01 })
    for (let i = 0; i < 20_000; i++) filter.add(`revoked-${i}`)
    let positives = 0
    for (let i = 0; i < 100_000; i++) if (filter.has(`fresh-${i}`)) positives++
    // Deterministic ids, so this is a fixed number. The model says ~980 of 100k (sized at 98% of 1%);
    // a sample of 100k scatters by ~±31, so the bounds are wide enough for any sound hash and tight
    // enough to catch a broken one (a poor hash or a wrong block index gives several percent).
    expect(positives).toBeGreaterThan(800)
    expect(positives).toBeLessThan(1150)
  })

  it('accepts any iterable in addMany', () => {
    const filter = createRevocationFilter({ expectedItems: 10 })
    filter.addMany(new Set(['a', 'b']))
    expect(filter.has('a') && filter.has('b')).toBe(true)
    expect(filter.insertedCount).toBe(2)
  })

  it.each([
    [{ expectedItems: 0 }],
    [{ expectedItems: 1.5 }],
    [{ expectedItems: Number.NaN }],
    [{ expectedItems: 60_000_000 }],
    [{ expectedItems: 10, falsePositiveRate: 0 }],
    [{ expectedItems: 10, falsePositiveRate: 0.5 }],
    [{ expectedItems: 10, falsePositiveRate: Number.NaN }],
  ])('rejects bad options %j at construction', (options) => {
    expect(() => createRevocationFilter(options)).toThrow(RangeError)
  })
})

describe('snapshots', () => {
  it('round-trip the answers, the id count and the stream id', () => {
    const filter = createRevocationFilter({ expectedItems: 500 })
    const ids = Array.from({ length: 400 }, (_, i) => `jti-${i}`)
    filter.addMany(ids)
    const snapshot = filter.toSnapshot('1700000000000-7')
    expect(snapshot.length).toBe(32 + filter.byteLength)

    const { filter: loaded, streamId } = loadRevocationFilter(snapshot)
    expect(streamId).toBe('1700000000000-7')
    expect(loaded.insertedCount).toBe(400)
    expect(loaded.blockCount).toBe(filter.blockCount)
    for (let i = 0; i < 2000; i++) expect(loaded.has(`jti-${i}`)).toBe(filter.has(`jti-${i}`))
    expect(loaded.toSnapshot('1700000000000-7')).toEqual(snapshot)
  })

  it('copies the snapshot, so later changes to either side stay apart', () => {
    const filter = createRevocationFilter({ expectedItems: 100 })
    const snapshot = filter.toSnapshot('0-0')
    const { filter: loaded } = loadRevocationFilter(snapshot)
    loaded.add('late')
    expect(loaded.has('late')).toBe(true)
    expect(filter.has('late')).toBe(false)
    snapshot.fill(0xff, 32)
    expect(loaded.has('never-added')).toBe(false)
  })

  it('refuses a bad stream id when writing a snapshot', () => {
    const filter = createRevocationFilter({ expectedItems: 10 })
    expect(() => filter.toSnapshot('latest')).toThrow(RevocationSnapshotError)
  })

  it('refuses hostile bytes when loading', () => {
    expect(() => loadRevocationFilter(new Uint8Array(64))).toThrow(RevocationSnapshotError)
  })
})
