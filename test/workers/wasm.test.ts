import { describe, expect, it } from 'vitest'
import { createRevocationFilter, loadRevocationFilter } from '../../src/revocation/filter.ts'
import { typescriptSbbfBackend } from '../../src/revocation/filter-typescript.ts'
import { loadSbbfBackend } from '../../src/wasm/load-worker.ts'

describe('revocation filter inside workerd', () => {
  const backend = loadSbbfBackend()
  const revoked = Array.from({ length: 3000 }, (_, i) => `jti-${i}-${crypto.randomUUID()}`)
  const fresh = Array.from({ length: 3000 }, () => crypto.randomUUID())

  it('loads the SIMD kernel from the bundled .wasm module', () => {
    expect(backend.implementation).toBe('wasm-simd')
    expect(createRevocationFilter({ expectedItems: 10, backend }).implementation).toBe('wasm-simd')
  })

  it('agrees with the TypeScript fallback on a few thousand keys', () => {
    const wasm = createRevocationFilter({ expectedItems: revoked.length, backend })
    const ts = createRevocationFilter({
      expectedItems: revoked.length,
      backend: typescriptSbbfBackend,
    })
    wasm.addMany(revoked)
    ts.addMany(revoked)
    expect(wasm.toSnapshot('1-0')).toEqual(ts.toSnapshot('1-0'))
    for (const id of revoked) expect(wasm.has(id)).toBe(true)
    let disagreements = 0
    for (const id of fresh) if (wasm.has(id) !== ts.has(id)) disagreements++
    expect(disagreements).toBe(0)
  })

  it('loads a snapshot made by the fallback (as the origin ships it)', () => {
    const origin = createRevocationFilter({
      expectedItems: revoked.length,
      backend: typescriptSbbfBackend,
    })
    origin.addMany(revoked)
    const { filter, streamId } = loadRevocationFilter(origin.toSnapshot('1700000000000-2'), {
      backend,
    })
    expect(streamId).toBe('1700000000000-2')
    expect(filter.implementation).toBe('wasm-simd')
    for (const id of revoked) expect(filter.has(id)).toBe(true)
    for (const id of fresh) expect(filter.has(id)).toBe(origin.has(id))
  })
})
