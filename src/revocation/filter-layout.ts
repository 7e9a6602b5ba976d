// The split-block Bloom filter layout shared by the WebAssembly kernel and the TypeScript fallback:
// Apache Parquet's SBBF (parquet-format BloomFilter.md). A filter is `numBlocks` blocks of eight
// little-endian u32 words (256 bits). An id's XXH64 picks the block from its high 32 bits,
// `((hash >>> 32) * numBlocks) >>> 32`, and sets one bit per word from its low 32 bits:
// word i gets bit `(low * SALT[i]) >>> 27`.

/** Parquet's SALT constants, one per word of a block. */
export const SALT: readonly number[] = [
  0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
]

export const BLOCK_BYTES = 32
export const WORDS_PER_BLOCK = 8

/**
 * Largest block count (64 MiB of filter, enough for ~50M ids at 1%). It also keeps
 * `(hash >>> 32) * numBlocks` below 2^53, so the TypeScript block index is exact in a double.
 */
export const MAX_BLOCKS = 1 << 21

/** Which implementation answers `has`: the WebAssembly SIMD kernel or the TypeScript fallback. */
export type FilterImplementation = 'wasm-simd' | 'typescript'

/**
 * False-positive rate of an SBBF holding `items` ids in `blocks` blocks. Ids land in blocks as a
 * Poisson process with mean λ = items / blocks; a block holding j ids has each of its eight words
 * filled with probability 1 - (31/32)^j at one bit, and a probe is a false positive when all eight
 * of its bits are set: Σ_j Poisson(j; λ) · (1 - (31/32)^j)^8.
 */
export function sbbfFalsePositiveRate(items: number, blocks: number): number {
  const lambda = items / blocks
  let term = Math.exp(-lambda)
  let emptyWord = 1
  let rate = 0
  const last = lambda + 20 * Math.sqrt(lambda) + 30
  for (let j = 0; j <= last; j++) {
    rate += term * (1 - emptyWord) ** 8
    emptyWord *= 31 / 32
    term *= lambda / (j + 1)
  }
  return rate
}

// The measured rate over a finite sample scatters around the model's; sizing for 98% of the requested
// rate keeps a measurement over 1M fresh ids below the request (costs ~0.5% more bytes).
const SIZING_MARGIN = 0.98

/**
 * Smallest block count whose modelled false-positive rate is at most `falsePositiveRate` (with a 2%
 * margin) for `expectedItems` ids. Not a power of two: Parquet's block index works for any count.
 *
 * @example
 * sbbfBlockCount(1_000_000, 0.01) // 41_9xx blocks = 1.34 MB, ~10.7 bits per id
 */
export function sbbfBlockCount(expectedItems: number, falsePositiveRate: number): number {
  const target = falsePositiveRate * SIZING_MARGIN
  let lo = 1
  let hi = MAX_BLOCKS
  if (sbbfFalsePositiveRate(expectedItems, hi) > target) {
    throw new RangeError(
      `revocation filter: ${expectedItems} ids at ${falsePositiveRate} need more than ${MAX_BLOCKS} blocks`,
    )
  }
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (sbbfFalsePositiveRate(expectedItems, mid) <= target) hi = mid
    else lo = mid + 1
  }
  return lo
}
