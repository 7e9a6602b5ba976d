// The TypeScript fallback of the split-block Bloom filter: same layout, same XXH64, same answers as
// the WebAssembly SIMD kernel, with scalar 32-bit arithmetic. Used where WebAssembly is unavailable
// and as the reference the kernel is property-tested against.

import type { SbbfBackend, SbbfStore } from './filter-backend.ts'
import { utf8, writeUtf8 } from './filter-backend.ts'
import { xxh64 } from './filter-hash.ts'
import { SALT, WORDS_PER_BLOCK } from './filter-layout.ts'

const [S0, S1, S2, S3, S4, S5, S6, S7] = SALT as [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
]

// Shared by every store: JavaScript runs one call at a time, and no call below yields.
const scratch = new Uint8Array(4096)
const hash = new Uint32Array(2)

/** XXH64 of the id's UTF-8 bytes into `hash` ([high, low]). */
function hashId(id: string): void {
  const n = writeUtf8(id, scratch, 0)
  if (n >= 0) {
    xxh64(scratch, n, hash)
  } else {
    const bytes = utf8(id)
    xxh64(bytes, bytes.length, hash)
  }
}

function createStore(numBlocks: number): SbbfStore {
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
    // The layout is little-endian u32 words; every JavaScript host Gatehouse targets is little-endian.
    throw new Error('revocation filter: big-endian hosts are not supported')
  }
  const words = new Uint32Array(numBlocks * WORDS_PER_BLOCK)
  // Parquet's block index ((hash >>> 32) * numBlocks) >>> 32; exact in f64 as numBlocks <= 2^21.
  // The quotient is below 2^21, so `| 0` floors it to a small integer index.
  const base = (high: number): number => (((high * numBlocks) / 4294967296) | 0) * WORDS_PER_BLOCK

  const insert = (id: string): void => {
    hashId(id)
    const b = base(hash[0] as number)
    const key = hash[1] as number
    words[b] = (words[b] as number) | (1 << (Math.imul(key, S0) >>> 27))
    words[b + 1] = (words[b + 1] as number) | (1 << (Math.imul(key, S1) >>> 27))
    words[b + 2] = (words[b + 2] as number) | (1 << (Math.imul(key, S2) >>> 27))
    words[b + 3] = (words[b + 3] as number) | (1 << (Math.imul(key, S3) >>> 27))
    words[b + 4] = (words[b + 4] as number) | (1 << (Math.imul(key, S4) >>> 27))
    words[b + 5] = (words[b + 5] as number) | (1 << (Math.imul(key, S5) >>> 27))
    words[b + 6] = (words[b + 6] as number) | (1 << (Math.imul(key, S6) >>> 27))
    words[b + 7] = (words[b + 7] as number) | (1 << (Math.imul(key, S7) >>> 27))
  }

  return {
    blocks: new Uint8Array(words.buffer),
    insert,
    insertMany(ids) {
      for (const id of ids) insert(id)
    },
    probe(id) {
      hashId(id)
      const b = base(hash[0] as number)
      const key = hash[1] as number
      return (
        ((words[b] as number) & (1 << (Math.imul(key, S0) >>> 27))) !== 0 &&
        ((words[b + 1] as number) & (1 << (Math.imul(key, S1) >>> 27))) !== 0 &&
        ((words[b + 2] as number) & (1 << (Math.imul(key, S2) >>> 27))) !== 0 &&
        ((words[b + 3] as number) & (1 << (Math.imul(key, S3) >>> 27))) !== 0 &&
        ((words[b + 4] as number) & (1 << (Math.imul(key, S4) >>> 27))) !== 0 &&
        ((words[b + 5] as number) & (1 << (Math.imul(key, S5) >>> 27))) !== 0 &&
        ((words[b + 6] as number) & (1 << (Math.imul(key, S6) >>> 27))) !== 0 &&
        ((words[b + 7] as number) & (1 << (Math.imul(key, S7) >>> 27))) !== 0
      )
    },
  }
}

/**
 * The TypeScript filter backend. Pass it where no WebAssembly module is at hand; the loaders in
 * src/wasm/ choose between it and the SIMD kernel.
 *
 * @example
 * const filter = createRevocationFilter({ expectedItems: 1000, backend: typescriptSbbfBackend })
 */
export const typescriptSbbfBackend: SbbfBackend = {
  implementation: 'typescript',
  allocate: createStore,
}
