// The edge revocation filter (DESIGN.md, "Revocation with a stated staleness bound"): a split-block
// Bloom filter of revoked ids (jti, sid, sub) that answers "certainly not revoked" without a network
// call. A hit may be a false positive (≤ the configured rate) and is confirmed in L2 by the caller.

import type { SbbfBackend } from './filter-backend.ts'
import type { FilterImplementation } from './filter-layout.ts'
import { BLOCK_BYTES, sbbfBlockCount } from './filter-layout.ts'
import { encodeSnapshot, parseSnapshot } from './filter-snapshot.ts'
import { typescriptSbbfBackend } from './filter-typescript.ts'

export type { FilterImplementation } from './filter-layout.ts'
export type { SbbfBackend } from './filter-backend.ts'
export { RevocationSnapshotError } from './filter-snapshot.ts'

/** A split-block Bloom filter of revoked ids. */
export interface RevocationFilter {
  /** 'wasm-simd' when the WebAssembly SIMD kernel answers, 'typescript' for the fallback. */
  readonly implementation: FilterImplementation
  readonly blockCount: number
  /** Bytes of filter blocks (the memory the filter needs, and its snapshot minus a 32-byte header). */
  readonly byteLength: number
  /** Ids added so far, duplicates counted. */
  readonly insertedCount: number
  add(id: string): void
  /** Adds many ids in few calls into the kernel: the way to load a stream. */
  addMany(ids: Iterable<string>): void
  /** False: `id` was never added. True: it was, or a false positive; confirm in L2. */
  has(id: string): boolean
  /** The filter as a snapshot covering the Redis stream up to `streamId` (`<ms>-<seq>`). */
  toSnapshot(streamId: string): Uint8Array
}

export interface RevocationFilterOptions {
  /** How many ids the filter is sized for; 1 ..= 50,000,000. */
  readonly expectedItems: number
  /** Target false-positive rate at `expectedItems` ids; 1e-6 ..= 0.25, default 0.01. */
  readonly falsePositiveRate?: number
  /** Where the bits live; default the TypeScript fallback. Entries pass `loadSbbfBackend()`. */
  readonly backend?: SbbfBackend
}

const MAX_EXPECTED_ITEMS = 50_000_000

function wrap(
  backend: SbbfBackend,
  numBlocks: number,
  insertedCount: number,
  blocks?: Uint8Array,
): RevocationFilter {
  const store = backend.allocate(numBlocks)
  if (blocks !== undefined) store.blocks.set(blocks)
  let count = insertedCount
  return {
    implementation: backend.implementation,
    blockCount: numBlocks,
    byteLength: numBlocks * BLOCK_BYTES,
    get insertedCount() {
      return count
    },
    add(id) {
      store.insert(id)
      count++
    },
    addMany(ids) {
      const list = Array.isArray(ids) ? (ids as readonly string[]) : [...ids]
      store.insertMany(list)
      count += list.length
    },
    // The store's own closure: no extra frame on the per-request path.
    has: store.probe,
    toSnapshot: (streamId) => encodeSnapshot(store.blocks, count, streamId),
  }
}

/**
 * Creates an empty filter sized for `expectedItems` ids at `falsePositiveRate` (≈ 10.5 bits per id
 * at 1%: 1M ids take 1.3 MB). Options are checked here, once.
 *
 * @example
 * const filter = createRevocationFilter({ expectedItems: 1_000_000, backend: loadSbbfBackend() })
 * filter.addMany(['jti-1', 'sid-2'])
 * filter.has('jti-1') // true
 * const snapshot = filter.toSnapshot('1700000000000-0')
 */
export function createRevocationFilter(options: RevocationFilterOptions): RevocationFilter {
  const { expectedItems, falsePositiveRate = 0.01, backend = typescriptSbbfBackend } = options
  if (!Number.isInteger(expectedItems) || expectedItems < 1 || expectedItems > MAX_EXPECTED_ITEMS) {
    throw new RangeError(
      `revocation filter: expectedItems must be an integer in 1..${MAX_EXPECTED_ITEMS}`,
    )
  }
  if (!(falsePositiveRate >= 1e-6 && falsePositiveRate <= 0.25)) {
    throw new RangeError('revocation filter: falsePositiveRate must be in 1e-6..0.25')
  }
  return wrap(backend, sbbfBlockCount(expectedItems, falsePositiveRate), 0)
}

/**
 * Loads a filter from a snapshot in one copy into the backend's memory. Throws
 * RevocationSnapshotError for anything but a well-formed snapshot (see ./filter-snapshot.ts).
 *
 * @example
 * const { filter, streamId } = loadRevocationFilter(bytes, { backend: loadSbbfBackend() })
 * // then read the stream from streamId on (XRANGE (streamId +) and filter.addMany(ids)
 */
export function loadRevocationFilter(
  snapshot: Uint8Array,
  options: { readonly backend?: SbbfBackend } = {},
): { filter: RevocationFilter; streamId: string } {
  const parsed = parseSnapshot(snapshot)
  const filter = wrap(
    options.backend ?? typescriptSbbfBackend,
    parsed.numBlocks,
    parsed.numIds,
    parsed.blocks,
  )
  return { filter, streamId: parsed.streamId }
}
