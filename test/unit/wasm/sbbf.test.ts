import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { xxh64 } from '../../../src/revocation/filter-hash.ts'
import { createRevocationFilter, loadRevocationFilter } from '../../../src/revocation/filter.ts'
import { typescriptSbbfBackend } from '../../../src/revocation/filter-typescript.ts'
import { createWasmSbbfBackend, selectSbbfBackend } from '../../../src/wasm/instantiate.ts'
import { loadSbbfBackend } from '../../../src/wasm/load-node.ts'

const wasm = loadSbbfBackend()
const ts = typescriptSbbfBackend
const ids = fc.array(fc.string({ unit: 'binary', maxLength: 100 }), { maxLength: 200 })

function bothFilters(expectedItems: number) {
  return [
    createRevocationFilter({ expectedItems, backend: wasm }),
    createRevocationFilter({ expectedItems, backend: ts }),
  ] as const
}

describe('sbbf.wasm loader', () => {
  it('runs the SIMD kernel on Node', () => {
    expect(wasm.implementation).toBe('wasm-simd')
    expect(createRevocationFilter({ expectedItems: 10, backend: wasm }).implementation).toBe(
      'wasm-simd',
    )
  })

  it('falls back to TypeScript without a module', () => {
    expect(selectSbbfBackend(undefined).implementation).toBe('typescript')
  })

  it('refuses a module without the kernel exports', () => {
    const empty = new WebAssembly.Module(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))
    expect(() => createWasmSbbfBackend(empty)).toThrow(/lacks exports/)
  })
})

describe('WASM kernel vs TypeScript fallback', () => {
  it('hashes any bytes to the same XXH64', () => {
    const bytes = readFileSync(new URL('../../../src/wasm/build/sbbf.wasm', import.meta.url))
    const raw = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as {
      memory: WebAssembly.Memory
      hash64(ptr: number, length: number): bigint
    }
    raw.memory.grow(1)
    const out = new Uint32Array(2)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
        new Uint8Array(raw.memory.buffer).set(input, 0)
        xxh64(input, input.length, out)
        const expected = (BigInt(out[0] as number) << 32n) | BigInt(out[1] as number)
        expect(BigInt.asUintN(64, raw.hash64(0, input.length))).toBe(expected)
      }),
      { numRuns: 500 },
    )
  })

  it('produces identical bytes after the same inserts', () => {
    fc.assert(
      fc.property(ids, fc.integer({ min: 1, max: 5000 }), (list, expectedItems) => {
        const [w, t] = bothFilters(expectedItems)
        w.addMany(list)
        for (const id of list) t.add(id)
        expect(w.toSnapshot('1-0')).toEqual(t.toSnapshot('1-0'))
      }),
      { numRuns: 100 },
    )
  })

  it('gives identical answers on random probes', () => {
    fc.assert(
      fc.property(ids, ids, (added, probes) => {
        const [w, t] = bothFilters(64)
        for (const id of added) {
          w.add(id)
          t.add(id)
        }
        for (const id of [...added, ...probes]) expect(w.has(id)).toBe(t.has(id))
      }),
      { numRuns: 100 },
    )
  })

  it('probes with one what the other inserted (snapshots cross over)', () => {
    fc.assert(
      fc.property(ids, ids, (added, probes) => {
        const [w, t] = bothFilters(300)
        w.addMany(added)
        t.addMany(added)
        const wasmIntoTs = loadRevocationFilter(w.toSnapshot('5-1'), { backend: ts }).filter
        const tsIntoWasm = loadRevocationFilter(t.toSnapshot('5-1'), { backend: wasm }).filter
        expect(tsIntoWasm.implementation).toBe('wasm-simd')
        for (const id of added) expect(wasmIntoTs.has(id) && tsIntoWasm.has(id)).toBe(true)
        for (const id of probes) {
          expect(wasmIntoTs.has(id)).toBe(t.has(id))
          expect(tsIntoWasm.has(id)).toBe(w.has(id))
        }
      }),
      { numRuns: 50 },
    )
  })

  it('agrees on ids longer than the 64 KiB scratch page and on batches that overflow it', () => {
    const long = 'x'.repeat(70_000)
    const longUnicode = '€'.repeat(30_000) // 90,000 UTF-8 bytes from 30,000 UTF-16 units
    const many = Array.from({ length: 5000 }, (_, i) => `${'p'.repeat(i % 97)}-${i}`)
    const list = [long, longUnicode, ...many, long + 'y', '\ud800', 'ok']
    const [w, t] = bothFilters(list.length)
    w.addMany(list)
    for (const id of list) t.add(id)
    expect(w.toSnapshot('0-0')).toEqual(t.toSnapshot('0-0'))
    for (const id of list) expect(w.has(id)).toBe(true)
    expect(w.has('x'.repeat(69_999))).toBe(t.has('x'.repeat(69_999)))

    const [single] = bothFilters(list.length)
    for (const id of list) single.add(id)
    expect(single.toSnapshot('0-0')).toEqual(w.toSnapshot('0-0'))
  })

  it('keeps filters apart: each has its own memory', () => {
    const a = createRevocationFilter({ expectedItems: 100, backend: wasm })
    const b = createRevocationFilter({ expectedItems: 100, backend: wasm })
    a.add('only-in-a')
    expect(a.has('only-in-a')).toBe(true)
    expect(b.has('only-in-a')).toBe(false)
  })
})
