// The contract between the revocation filter and the code that owns its bits: either the WebAssembly
// SIMD kernel (src/wasm/instantiate.ts) or the TypeScript fallback (./filter-typescript.ts). Both keep
// the blocks in the layout of ./filter-layout.ts, so a snapshot made by one loads into the other.

import type { FilterImplementation } from './filter-layout.ts'

/** One filter's blocks and the three operations on them. */
export interface SbbfStore {
  /** Live view of the block bytes (32 per block); copy it before the store is dropped. */
  readonly blocks: Uint8Array
  insert(id: string): void
  insertMany(ids: Iterable<string>): void
  /** False: the id was never inserted. True: it was, or it is a false positive. */
  probe(id: string): boolean
}

/** Makes zeroed stores; one backend serves any number of filters. */
export interface SbbfBackend {
  readonly implementation: FilterImplementation
  allocate(numBlocks: number): SbbfStore
}

const encoder = new TextEncoder()

/**
 * Writes `id` as UTF-8 into `target` from `offset` and returns the byte count, or -1 when it does not
 * fit. TextEncoder.encodeInto is native: measured ~28 ns for a 36-character UUID against ~72 ns for a
 * charCodeAt loop (Node 22). Its lone-surrogate handling (U+FFFD) is then shared by both backends.
 *
 * @example
 * const n = writeUtf8('jti-1', scratch, 0) // 5
 */
export function writeUtf8(id: string, target: Uint8Array, offset: number): number {
  const { read, written } = encoder.encodeInto(id, offset === 0 ? target : target.subarray(offset))
  return read === id.length ? written : -1
}

/** UTF-8 bytes of `id` in a fresh array: the slow path for ids longer than a scratch buffer. */
export function utf8(id: string): Uint8Array {
  return encoder.encode(id)
}
