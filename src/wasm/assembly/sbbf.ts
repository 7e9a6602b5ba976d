// Split-block Bloom filter kernels (Apache Parquet's SBBF layout) in AssemblyScript with WebAssembly
// SIMD. Compiled by `npm run build:wasm` to src/wasm/build/sbbf.wasm; the TypeScript twin is
// src/revocation/filter-typescript.ts and both must give identical answers on identical bytes.
//
// Memory layout (one instance per filter, see src/wasm/instantiate.ts):
//   [0, 65536)          scratch: the key being added or probed, or a batch of keys and their end offsets
//   [65536, +32 * n)    the n blocks of the filter, 32 bytes each, little-endian u32 words
// The JS side writes keys into the scratch page and grows memory once to fit the blocks. Every access
// below stays inside memory the JS side sized; an out-of-range pointer traps in the engine, it never
// reads outside the instance.

const BLOCKS: usize = 65536

// Parquet's SALT constants (parquet-format BloomFilter.md, "Technical Approach").
const SALT0: v128 = i32x4(0x47b6137b, 0x44974d91, <i32>0x8824ad5b, <i32>0xa2b7289d)
const SALT1: v128 = i32x4(0x705495c7, 0x2df1424b, <i32>0x9efc4947, 0x5c6bfb31)
const ONE_F32_BITS: v128 = i32x4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000)

// xxHash64 primes (Parquet hashes values with XXH64, seed 0). u64 literals are exact in AssemblyScript.
/* eslint-disable no-loss-of-precision */
const P1: u64 = 0x9e3779b185ebca87
const P2: u64 = 0xc2b2ae3d27d4eb4f
const P3: u64 = 0x165667b19e3779f9
const P4: u64 = 0x85ebca77c2b2ae63
const P5: u64 = 0x27d4eb2f165667c5
/* eslint-enable no-loss-of-precision */

let numBlocks: u64 = 0

/** Sets the block count of this instance's filter; the JS side calls it once after sizing memory. */
export function setBlockCount(n: u32): void {
  numBlocks = <u64>n
}

function round(acc: u64, input: u64): u64 {
  acc += input * P2
  acc = rotl<u64>(acc, 31)
  return acc * P1
}

function mergeRound(acc: u64, val: u64): u64 {
  acc ^= round(0, val)
  return acc * P1 + P4
}

/** XXH64 with seed 0 of `len` bytes at `ptr`. */
export function hash64(ptr: usize, len: usize): u64 {
  const end = ptr + len
  let h: u64
  if (len >= 32) {
    const limit = end - 32
    let v1: u64 = P1 + P2
    let v2: u64 = P2
    let v3: u64 = 0
    let v4: u64 = 0 - P1
    do {
      v1 = round(v1, load<u64>(ptr))
      v2 = round(v2, load<u64>(ptr, 8))
      v3 = round(v3, load<u64>(ptr, 16))
      v4 = round(v4, load<u64>(ptr, 24))
      ptr += 32
    } while (ptr <= limit)
    h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18)
    h = mergeRound(h, v1)
    h = mergeRound(h, v2)
    h = mergeRound(h, v3)
    h = mergeRound(h, v4)
  } else {
    h = P5
  }
  h += <u64>len
  while (ptr + 8 <= end) {
    h ^= round(0, load<u64>(ptr))
    h = rotl<u64>(h, 27) * P1 + P4
    ptr += 8
  }
  if (ptr + 4 <= end) {
    h ^= <u64>load<u32>(ptr) * P1
    h = rotl<u64>(h, 23) * P2 + P3
    ptr += 4
  }
  while (ptr < end) {
    h ^= <u64>load<u8>(ptr) * P5
    h = rotl<u64>(h, 11) * P1
    ptr++
  }
  h ^= h >> 33
  h *= P2
  h ^= h >> 29
  h *= P3
  h ^= h >> 32
  return h
}

// Parquet: block index = ((hash >> 32) * numBlocks) >> 32, so any block count works (no power of two).
function blockAddress(hash: u64): usize {
  return BLOCKS + ((<usize>(((hash >> 32) * numBlocks) >> 32)) << 5)
}

// Lane i gets 1 << ((key * SALT[i]) >>> 27). WebAssembly SIMD has no per-lane variable shift, so
// 1 << x is built as the f32 2^x: exponent bits (x << 23) + bits of 1.0f, then truncated to u32
// (2^31 still fits in u32, so trunc_sat is exact for every x in 0..31).
function laneMasks(key: v128, salt: v128): v128 {
  const bit = i32x4.shr_u(i32x4.mul(key, salt), 27)
  return i32x4.trunc_sat_f32x4_u(i32x4.add(i32x4.shl(bit, 23), ONE_F32_BITS))
}

function insertHashed(hash: u64): void {
  const block = blockAddress(hash)
  const key = i32x4.splat(<i32>hash)
  v128.store(block, v128.or(v128.load(block), laneMasks(key, SALT0)))
  v128.store(block, v128.or(v128.load(block, 16), laneMasks(key, SALT1)), 16)
}

// One block probe = two 128-bit tests: a bit of a mask that is missing from the block word means
// "absent" (andnot(mask, word) = mask & ~word).
function probeHashed(hash: u64): bool {
  const block = blockAddress(hash)
  const key = i32x4.splat(<i32>hash)
  const missing = v128.or(
    v128.andnot(laneMasks(key, SALT0), v128.load(block)),
    v128.andnot(laneMasks(key, SALT1), v128.load(block, 16)),
  )
  return !v128.any_true(missing)
}

/** Adds the key of `len` bytes at `ptr`. */
export function insertKey(ptr: usize, len: usize): void {
  insertHashed(hash64(ptr, len))
}

/** True when the key of `len` bytes at `ptr` may be in the filter; false means certainly absent. */
export function probeKey(ptr: usize, len: usize): bool {
  return probeHashed(hash64(ptr, len))
}

/** Adds a key whose XXH64 the caller computed (keys too long for the scratch page). */
export function insertHash(hi: u32, lo: u32): void {
  insertHashed(((<u64>hi) << 32) | (<u64>lo))
}

/** Probes a key whose XXH64 the caller computed. */
export function probeHash(hi: u32, lo: u32): bool {
  return probeHashed(((<u64>hi) << 32) | (<u64>lo))
}

/**
 * Adds `count` keys in one call: the keys are back to back at `dataPtr` and `endsPtr` holds `count`
 * u32 end offsets relative to `dataPtr` (key i spans [ends[i - 1], ends[i]), ends[-1] = 0).
 */
export function insertBatch(dataPtr: usize, endsPtr: usize, count: u32): void {
  let start: usize = 0
  for (let i: u32 = 0; i < count; i++) {
    const end = <usize>load<u32>(endsPtr + ((<usize>i) << 2))
    insertHashed(hash64(dataPtr + start, end - start))
    start = end
  }
}

// Variants kept only for bench/revocation.bench.ts, which measures them against probeKey.

/** probeKey with the lane masks built by a per-lane i32x4.shl through extract/replace lane. */
export function probeKeyShl(ptr: usize, len: usize): bool {
  const hash = hash64(ptr, len)
  const block = blockAddress(hash)
  const key = i32x4.splat(<i32>hash)
  const b0 = i32x4.shr_u(i32x4.mul(key, SALT0), 27)
  const b1 = i32x4.shr_u(i32x4.mul(key, SALT1), 27)
  let m0 = i32x4.splat(1)
  let m1 = i32x4.splat(1)
  m0 = i32x4.replace_lane(m0, 0, 1 << i32x4.extract_lane(b0, 0))
  m0 = i32x4.replace_lane(m0, 1, 1 << i32x4.extract_lane(b0, 1))
  m0 = i32x4.replace_lane(m0, 2, 1 << i32x4.extract_lane(b0, 2))
  m0 = i32x4.replace_lane(m0, 3, 1 << i32x4.extract_lane(b0, 3))
  m1 = i32x4.replace_lane(m1, 0, 1 << i32x4.extract_lane(b1, 0))
  m1 = i32x4.replace_lane(m1, 1, 1 << i32x4.extract_lane(b1, 1))
  m1 = i32x4.replace_lane(m1, 2, 1 << i32x4.extract_lane(b1, 2))
  m1 = i32x4.replace_lane(m1, 3, 1 << i32x4.extract_lane(b1, 3))
  const missing = v128.or(v128.andnot(m0, v128.load(block)), v128.andnot(m1, v128.load(block, 16)))
  return !v128.any_true(missing)
}

/** probeKey without SIMD: eight scalar word tests. */
export function probeKeyScalar(ptr: usize, len: usize): bool {
  const hash = hash64(ptr, len)
  const block = blockAddress(hash)
  const key = <u32>hash
  if ((load<u32>(block) & (1 << ((key * 0x47b6137b) >>> 27))) == 0) return false
  if ((load<u32>(block, 4) & (1 << ((key * 0x44974d91) >>> 27))) == 0) return false
  if ((load<u32>(block, 8) & (1 << ((key * 0x8824ad5b) >>> 27))) == 0) return false
  if ((load<u32>(block, 12) & (1 << ((key * 0xa2b7289d) >>> 27))) == 0) return false
  if ((load<u32>(block, 16) & (1 << ((key * 0x705495c7) >>> 27))) == 0) return false
  if ((load<u32>(block, 20) & (1 << ((key * 0x2df1424b) >>> 27))) == 0) return false
  if ((load<u32>(block, 24) & (1 << ((key * 0x9efc4947) >>> 27))) == 0) return false
  return (load<u32>(block, 28) & (1 << ((key * 0x5c6bfb31) >>> 27))) != 0
}
