/**
 * Token-shaped strings and verified results for cache tests. The cache never parses a token, so these
 * need not carry valid signatures; they have the shape of a compact JWS with an ES256-sized signature.
 */
import type { VerifiedToken } from '../../../src/core/types.ts'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Deterministic base64url text from a seed (xorshift32), so failures reproduce. */
export function base64urlText(length: number, seed: number): string {
  let x = seed | 0 || 1
  let out = ''
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out += ALPHABET[(x >>> 0) % 64]
  }
  return out
}

/** A compact-JWS-shaped token: header.payload.signature, ~300 characters. */
export function fakeToken(seed: number, signature = base64urlText(86, seed * 7919 + 1)): string {
  return `eyJhbGciOiJFUzI1NiJ9.${base64urlText(180, seed)}.${signature}`
}

/** A verified result whose `exp` (seconds) is the given value; `sub` tells results apart. */
export function verified(sub: string, exp: number): VerifiedToken {
  return {
    header: { alg: 'ES256', kid: 'k1', typ: 'at+jwt' },
    claims: { iss: 'https://issuer.test', sub, aud: ['https://api.test'], exp },
  }
}
