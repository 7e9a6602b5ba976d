// XXH64 (seed 0) of UTF-8 bytes with 32-bit arithmetic only, so the TypeScript filter hashes exactly
// like the WebAssembly kernel (src/wasm/assembly/sbbf.ts, native i64) and like Apache Parquet's bloom
// filters. JavaScript has no 64-bit integer multiply short of BigInt (which allocates), so each 64-bit
// value is a pair of uint32 numbers: the low word of a product is Math.imul, the high word is mulHi.

const P1H = 0x9e3779b1
const P1L = 0x85ebca87
const P2H = 0xc2b2ae3d
const P2L = 0x27d4eb4f
const P3H = 0x165667b1
const P3L = 0x9e3779f9
const P4H = 0x85ebca77
const P4L = 0xc2b2ae63
const P5H = 0x27d4eb2f
const P5L = 0x165667c5

// Where round() leaves its 64-bit result, [high, low]. A typed array rather than two module `let`s:
// a uint32 above 2^30 is not a small integer in V8, so a module variable would box it on every store.
const reg = new Uint32Array(2)

/** High 32 bits of (ah:al) * (bh:bl) mod 2^64; every intermediate sum is exact in an f64. */
function mulHi(ah: number, al: number, bh: number, bl: number): number {
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const m = a1 * b0 + a0 * b1 + ((a0 * b0) >>> 16)
  return (a1 * b1 + ((m / 65536) | 0) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0
}

/** XXH64 round into reg: rotl(acc + input * P2, 31) * P1. */
function round(acch: number, accl: number, inh: number, inl: number): void {
  const xl = Math.imul(inl, P2L) >>> 0
  const s = accl + xl
  const yl = s >>> 0
  const yh = (acch + mulHi(inh, inl, P2H, P2L) + ((s / 4294967296) | 0)) >>> 0
  const zh = ((yh << 31) | (yl >>> 1)) >>> 0
  const zl = ((yl << 31) | (yh >>> 1)) >>> 0
  reg[0] = mulHi(zh, zl, P1H, P1L)
  reg[1] = Math.imul(zl, P1L) >>> 0
}

/** reg = rotl(h ^ x, r) * m + a, the step shared by merging and the tail (0 < r < 32). */
function mix(
  hh: number,
  hl: number,
  xh: number,
  xl: number,
  r: number,
  mh: number,
  ml: number,
  ah: number,
  al: number,
): void {
  const yh = (hh ^ xh) >>> 0
  const yl = (hl ^ xl) >>> 0
  const zh = ((yh << r) | (yl >>> (32 - r))) >>> 0
  const zl = ((yl << r) | (yh >>> (32 - r))) >>> 0
  const pl = Math.imul(zl, ml) >>> 0
  const s = pl + al
  reg[1] = s >>> 0
  reg[0] = (mulHi(zh, zl, mh, ml) + ah + ((s / 4294967296) | 0)) >>> 0
}

/** reg = rotl(v, r) for lanes merging (0 < r < 32) added to (hh:hl). */
function addRotl(hh: number, hl: number, vh: number, vl: number, r: number): void {
  const zh = ((vh << r) | (vl >>> (32 - r))) >>> 0
  const zl = ((vl << r) | (vh >>> (32 - r))) >>> 0
  const s = hl + zl
  reg[1] = s >>> 0
  reg[0] = (hh + zh + ((s / 4294967296) | 0)) >>> 0
}

function u32le(b: Uint8Array, p: number): number {
  return (
    ((b[p] as number) |
      ((b[p + 1] as number) << 8) |
      ((b[p + 2] as number) << 16) |
      ((b[p + 3] as number) << 24)) >>>
    0
  )
}

/**
 * XXH64 with seed 0 of `bytes[0 .. length)`, written to `out` as [high 32 bits, low 32 bits].
 * Allocation-free so the per-request probe stays cheap.
 *
 * @example
 * const out = new Uint32Array(2)
 * xxh64(new TextEncoder().encode('abc'), 3, out) // out = [0x44bc2cf5, 0xad770999]
 */
export function xxh64(bytes: Uint8Array, length: number, out: Uint32Array): void {
  let p = 0
  let hh: number
  let hl: number
  if (length >= 32) {
    // v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1 (mod 2^64)
    let v1h = 0x60ea27ee
    let v1l = 0xadc0b5d6
    let v2h = P2H
    let v2l = P2L
    let v3h = 0
    let v3l = 0
    let v4h = 0x61c8864e
    let v4l = 0x7a143579
    const limit = length - 32
    do {
      round(v1h, v1l, u32le(bytes, p + 4), u32le(bytes, p))
      v1h = reg[0] as number
      v1l = reg[1] as number
      round(v2h, v2l, u32le(bytes, p + 12), u32le(bytes, p + 8))
      v2h = reg[0] as number
      v2l = reg[1] as number
      round(v3h, v3l, u32le(bytes, p + 20), u32le(bytes, p + 16))
      v3h = reg[0] as number
      v3l = reg[1] as number
      round(v4h, v4l, u32le(bytes, p + 28), u32le(bytes, p + 24))
      v4h = reg[0] as number
      v4l = reg[1] as number
      p += 32
    } while (p <= limit)
    // h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)
    addRotl(0, 0, v1h, v1l, 1)
    addRotl(reg[0] as number, reg[1] as number, v2h, v2l, 7)
    addRotl(reg[0] as number, reg[1] as number, v3h, v3l, 12)
    addRotl(reg[0] as number, reg[1] as number, v4h, v4l, 18)
    hh = reg[0] as number
    hl = reg[1] as number
    // merge rounds: h = (h ^ round(0, v)) * P1 + P4 for v = v1 .. v4
    for (let lane = 0; lane < 4; lane++) {
      const vh = lane === 0 ? v1h : lane === 1 ? v2h : lane === 2 ? v3h : v4h
      const vl = lane === 0 ? v1l : lane === 1 ? v2l : lane === 2 ? v3l : v4l
      round(0, 0, vh, vl)
      const yh = (hh ^ (reg[0] as number)) >>> 0
      const yl = (hl ^ (reg[1] as number)) >>> 0
      const s = (Math.imul(yl, P1L) >>> 0) + P4L
      hl = s >>> 0
      hh = (mulHi(yh, yl, P1H, P1L) + P4H + ((s / 4294967296) | 0)) >>> 0
    }
  } else {
    hh = P5H
    hl = P5L
  }
  // h += length (ids are far shorter than 2^32 bytes)
  const s = hl + length
  hl = s >>> 0
  hh = (hh + ((s / 4294967296) | 0)) >>> 0
  while (p + 8 <= length) {
    // h = rotl(h ^ round(0, k), 27) * P1 + P4
    round(0, 0, u32le(bytes, p + 4), u32le(bytes, p))
    mix(hh, hl, reg[0] as number, reg[1] as number, 27, P1H, P1L, P4H, P4L)
    hh = reg[0] as number
    hl = reg[1] as number
    p += 8
  }
  if (p + 4 <= length) {
    // h = rotl(h ^ (k32 * P1), 23) * P2 + P3
    const k = u32le(bytes, p)
    mix(hh, hl, mulHi(0, k, P1H, P1L), Math.imul(k, P1L) >>> 0, 23, P2H, P2L, P3H, P3L)
    hh = reg[0] as number
    hl = reg[1] as number
    p += 4
  }
  while (p < length) {
    // h = rotl(h ^ (byte * P5), 11) * P1
    const k = bytes[p] as number
    mix(hh, hl, mulHi(0, k, P5H, P5L), Math.imul(k, P5L) >>> 0, 11, P1H, P1L, 0, 0)
    hh = reg[0] as number
    hl = reg[1] as number
    p++
  }
  // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
  hl = (hl ^ (hh >>> 1)) >>> 0
  let yh = mulHi(hh, hl, P2H, P2L)
  let yl = Math.imul(hl, P2L) >>> 0
  hl = (yl ^ ((yh << 3) | (yl >>> 29))) >>> 0
  hh = (yh ^ (yh >>> 29)) >>> 0
  yh = mulHi(hh, hl, P3H, P3L)
  yl = Math.imul(hl, P3L) >>> 0
  out[0] = yh
  out[1] = (yl ^ yh) >>> 0
}
