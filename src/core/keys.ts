/**
 * JWK import for signature verification. Each imported key is bound to exactly one algorithm (RFC 8725
 * §3.1): an RSA key allowed both RS256 and PS256 becomes two keys, and a key imported for ECDSA can
 * never be used for HMAC, which makes algorithm confusion (RFC 8725 §2.1) impossible by construction.
 *
 * Policy on what a key set may contain:
 * - only `kty` EC (P-256, P-384), OKP (Ed25519) and RSA (2048–8192 bits, odd e ≥ 3, no ROCA
 *   fingerprint); `oct` (HMAC) only when the caller opts in (`allowSymmetric`, JWS layer only);
 * - `use` other than "sig", or `key_ops` without "verify" (RFC 7517 §4.2, §4.3): not for us, skipped;
 * - private members (`d`, `p`, …) in a key meant to be public: the key is refused, not stripped. A
 *   private key that has been published is compromised, so tokens signed with it prove nothing.
 */
import { decodeBase64Url } from './base64url.ts'
import { hasRocaFingerprint } from './roca.ts'
import type { PublicJwk, SigningAlg, WebCryptoKey } from './types.ts'

/** Every algorithm the JWS layer can verify. Access tokens use only `SigningAlg`. */
export type JwsAlg =
  SigningAlg | 'RS384' | 'RS512' | 'PS384' | 'PS512' | 'HS256' | 'HS384' | 'HS512'

/** The access-token algorithms (DESIGN.md, Tokens). */
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']

/** A public (or, at the JWS layer only, HMAC) key bound to one algorithm. */
export interface JwsKey {
  kid: string | undefined
  alg: JwsAlg
  /** The members needed to verify (no private members), plus `kid`, `alg`, `use`. */
  jwk: PublicJwk
  cryptoKey: WebCryptoKey
}

/**
 * `unusable`: the key is not meant for us (wrong `use`, unsupported type/curve/algorithm): skip it.
 * `invalid`: the key is malformed, weak, carries private members or contradicts its own `alg`.
 */
export type KeyImportProblem = 'unusable' | 'invalid'

export class KeyImportError extends Error {
  override readonly name = 'KeyImportError'
  readonly problem: KeyImportProblem
  constructor(problem: KeyImportProblem, message: string) {
    super(message)
    this.problem = problem
  }
}

export interface ImportJwkOptions {
  /** Algorithms the key may be used with; default: its own `alg`, or the one its curve implies. */
  algorithms?: readonly JwsAlg[] | undefined
  /** Algorithms the caller supports at all; default `SIGNING_ALGS`. */
  supported?: readonly JwsAlg[] | undefined
  /** Accept `kty: oct` keys for HS256/384/512 (JWS layer only, never in access-token key sets). */
  allowSymmetric?: boolean | undefined
}

const ALL_ALGS: readonly JwsAlg[] = [
  ...SIGNING_ALGS,
  'RS384',
  'RS512',
  'PS384',
  'PS512',
  'HS256',
  'HS384',
  'HS512',
]

const HASH: Record<JwsAlg, 'SHA-256' | 'SHA-384' | 'SHA-512' | undefined> = {
  ES256: 'SHA-256',
  ES384: 'SHA-384',
  EdDSA: undefined,
  RS256: 'SHA-256',
  RS384: 'SHA-384',
  RS512: 'SHA-512',
  PS256: 'SHA-256',
  PS384: 'SHA-384',
  PS512: 'SHA-512',
  HS256: 'SHA-256',
  HS384: 'SHA-384',
  HS512: 'SHA-512',
}

// Taken from SubtleCrypto itself: the DOM lib and workers-types name the parameter types differently.
type ImportParams = Parameters<SubtleCrypto['importKey']>[2]

/** WebCrypto parameters for `importKey`; the verify parameters are derived in signature.ts. */
function importParams(alg: JwsAlg, crv: string | undefined): ImportParams {
  switch (alg) {
    case 'ES256':
    case 'ES384':
      return { name: 'ECDSA', namedCurve: crv! }
    case 'EdDSA':
      return { name: 'Ed25519' }
    case 'RS256':
    case 'RS384':
    case 'RS512':
      return { name: 'RSASSA-PKCS1-v1_5', hash: HASH[alg]! }
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return { name: 'RSA-PSS', hash: HASH[alg]! }
    default:
      return { name: 'HMAC', hash: HASH[alg]! }
  }
}

const RSA_PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const
const EC_BYTES: Record<string, number> = { 'P-256': 32, 'P-384': 48 }
const MIN_HMAC_BYTES: Partial<Record<JwsAlg, number>> = { HS256: 32, HS384: 48, HS512: 64 }

const invalid = (why: string) => new KeyImportError('invalid', why)
const unusable = (why: string) => new KeyImportError('unusable', why)

function b64(jwk: Record<string, unknown>, name: string, bytes?: number): Uint8Array {
  const value = jwk[name]
  const decoded = typeof value === 'string' ? decodeBase64Url(value) : undefined
  if (decoded === undefined) throw invalid(`"${name}" is missing or not base64url`)
  if (bytes !== undefined && decoded.length !== bytes)
    throw invalid(`"${name}" has the wrong length`)
  return decoded
}

/** The algorithms the key's type and curve can serve, and the public JWK to import. */
function inspect(jwk: Record<string, unknown>, allowSymmetric: boolean) {
  const { kty, crv } = jwk
  if (kty === 'EC') {
    const size = typeof crv === 'string' ? EC_BYTES[crv] : undefined
    if (size === undefined) throw unusable('unsupported EC curve')
    if (jwk.d !== undefined) throw invalid('private member "d" in a public key')
    b64(jwk, 'x', size)
    b64(jwk, 'y', size)
    const algs: JwsAlg[] = [crv === 'P-256' ? 'ES256' : 'ES384']
    return { algs, implied: true, publicJwk: { kty, crv, x: jwk.x, y: jwk.y } as JsonWebKey }
  }
  if (kty === 'OKP') {
    if (crv !== 'Ed25519') throw unusable('unsupported OKP curve')
    if (jwk.d !== undefined) throw invalid('private member "d" in a public key')
    b64(jwk, 'x', 32)
    const algs: JwsAlg[] = ['EdDSA']
    return { algs, implied: true, publicJwk: { kty, crv, x: jwk.x } as JsonWebKey }
  }
  if (kty === 'RSA') {
    for (const name of RSA_PRIVATE) {
      if (jwk[name] !== undefined) throw invalid(`private member "${name}" in a public key`)
    }
    checkRsaPublicKey(b64(jwk, 'n'), b64(jwk, 'e'))
    const algs: JwsAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    return { algs, implied: false, publicJwk: { kty, n: jwk.n, e: jwk.e } as JsonWebKey }
  }
  if (kty === 'oct' && allowSymmetric) {
    const k = b64(jwk, 'k')
    const algs: JwsAlg[] = ['HS256', 'HS384', 'HS512']
    return {
      algs,
      implied: false,
      publicJwk: { kty, k: jwk.k } as JsonWebKey,
      secretBytes: k.length,
    }
  }
  throw unusable('unsupported key type')
}

function checkRsaPublicKey(n: Uint8Array, e: Uint8Array): void {
  let start = 0
  while (start < n.length && n[start] === 0) start++
  const bits = n.length === start ? 0 : (n.length - start - 1) * 8 + (32 - Math.clz32(n[start]!))
  // NIST SP 800-131A / RFC 7518 §3.3: 2048 bits minimum. The cap bounds verification cost.
  if (bits < 2048 || bits > 8192) throw invalid('RSA modulus must be 2048 to 8192 bits')
  if (e.length > 4) throw invalid('RSA exponent too large')
  let exponent = 0
  for (const byte of e) exponent = exponent * 256 + byte
  if (exponent < 3 || exponent % 2 === 0) throw invalid('RSA exponent must be odd and at least 3')
  if (hasRocaFingerprint(n.subarray(start))) throw invalid('RSA modulus has the ROCA fingerprint')
}

/**
 * Imports one JWK for signature verification, one `JwsKey` per allowed algorithm. Throws
 * `KeyImportError` (`unusable`: skip it; `invalid`: a broken or unsafe key). Key selection rule for
 * the algorithm: the configured `algorithms`, else the JWK's `alg`, else the only algorithm its curve
 * allows (EC, OKP); an RSA or oct key with neither is refused as ambiguous.
 *
 * @example const [key] = await importJwk({ kty: 'OKP', crv: 'Ed25519', x: '…', kid: 'k1' })
 */
export async function importJwk(input: unknown, options: ImportJwkOptions = {}): Promise<JwsKey[]> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('key is not a JSON object')
  }
  const jwk = input as Record<string, unknown>
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') throw invalid('"kid" is not a string')
  if (jwk.use !== undefined && jwk.use !== 'sig') throw unusable('key "use" is not "sig"')
  if (jwk.key_ops !== undefined) {
    const ops = jwk.key_ops
    if (!Array.isArray(ops) || ops.some((op) => typeof op !== 'string')) {
      throw invalid('"key_ops" is not an array of strings')
    }
    if (!ops.includes('verify')) throw unusable('"key_ops" does not include "verify"')
  }
  if (jwk.alg !== undefined && typeof jwk.alg !== 'string') throw invalid('"alg" is not a string')

  const supported = options.supported ?? SIGNING_ALGS
  const { algs, implied, publicJwk, secretBytes } = inspect(jwk, options.allowSymmetric === true)
  const ownAlg = jwk.alg as string | undefined
  if (ownAlg !== undefined && !ALL_ALGS.includes(ownAlg as JwsAlg)) {
    throw unusable('key "alg" is not a supported algorithm')
  }
  if (ownAlg !== undefined && !algs.includes(ownAlg as JwsAlg)) {
    throw invalid('key "alg" does not match its type or curve')
  }
  let chosen: readonly JwsAlg[]
  if (options.algorithms !== undefined) {
    if (options.algorithms.some((a) => !algs.includes(a))) {
      throw invalid('configured algorithms do not match the key type or curve')
    }
    if (ownAlg !== undefined && !options.algorithms.includes(ownAlg as JwsAlg)) {
      throw invalid('key "alg" is not among the configured algorithms')
    }
    chosen = ownAlg !== undefined ? [ownAlg as JwsAlg] : options.algorithms
  } else if (ownAlg !== undefined) {
    chosen = [ownAlg as JwsAlg]
  } else if (implied) {
    chosen = algs
  } else {
    throw invalid('key has no "alg" and no configured algorithms (ambiguous, RFC 8725 §3.1)')
  }
  chosen = chosen.filter((a) => supported.includes(a))
  if (chosen.length === 0) throw unusable('key algorithm is not supported here')

  const kid = jwk.kid as string | undefined
  const keys: JwsKey[] = []
  for (const alg of chosen) {
    const min = MIN_HMAC_BYTES[alg]
    // RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
    if (min !== undefined && (secretBytes ?? 0) < min) throw invalid('HMAC key is too short')
    let cryptoKey: CryptoKey
    try {
      cryptoKey = await crypto.subtle.importKey(
        'jwk',
        publicJwk,
        importParams(alg, publicJwk.crv),
        false,
        ['verify'],
      )
    } catch {
      // WebCrypto refuses points not on the curve and other malformed keys.
      throw invalid('key material rejected by WebCrypto')
    }
    const described: JsonWebKey & { kid?: string } = { ...publicJwk, alg, use: 'sig' }
    if (kid !== undefined) described.kid = kid
    keys.push({ kid, alg, jwk: described, cryptoKey })
  }
  return keys
}
