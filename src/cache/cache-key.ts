/**
 * The L1 lookup key of a token: a 30-bit FNV-1a hash of {@link KEY_CHARS} characters taken from the
 * end of the signature segment, skipping the last character.
 *
 * Why not the token itself: `Map.get` keyed by a freshly received token string makes V8 hash the whole
 * string (~0.8 µs for a 645-character token in `bench/cache-key.bench.ts`, ~1.8 µs for ~800 bytes in
 * DESIGN.md). The signature is the last segment, so its tail is the part of a token with the most
 * entropy per character. The final character is skipped because it carries only 2–4 bits (the
 * base64url padding bits of a 64- or 256-byte signature). A small integer key is also cheaper than a
 * string slice (no allocation, no string hash): lookup plus equality measured ~42 ns with this key vs
 * ~63–110 ns for string slices of 8–32 characters. The key only narrows the search: a hit is confirmed
 * by full-string equality, so two tokens sharing a key can only cause a miss, never an admission.
 *
 * @example
 * const key = tokenCacheKey(token) // 0 <= key < 2 ** 30, always a Smi
 */
export const KEY_CHARS = 8

export function tokenCacheKey(token: string): number {
  const end = token.length - 1
  const start = end - KEY_CHARS > 0 ? end - KEY_CHARS : 0
  let hash = 0x811c9dc5 | 0
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193)
  // 30 bits: stays a small integer (Smi) on every V8 build, so Map lookups never box a heap number.
  return hash & 0x3fffffff
}
