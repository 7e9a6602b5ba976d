/**
 * The signature step, pluggable: the core default goes through WebCrypto (one code path for every
 * runtime); `src/entry/node-signature.ts` offers a synchronous `node:crypto` check that is measurably
 * faster on Node. Both check the signature length first, so a malformed signature never reaches
 * the crypto library.
 */
import type { JwsKey } from './keys.ts'
import type { VerificationKey } from './jwks.ts'

/** Verifies `signature` over `data` with `key` for `key.alg`. Must return false, not throw, on a bad signature. */
export interface SignatureCheck {
  (key: VerificationKey, data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>
  /**
   * True only for a check that answers with a boolean, never a promise, and keeps no reference to
   * `data` or `signature` once it returns: the verifier then hands it views into a buffer it reuses
   * for every token rather than copies (jws-scratch.ts). `nodeSignatureCheck` is one.
   */
  readonly synchronous?: boolean
}

const FIXED_LENGTH: Partial<Record<string, number>> = {
  // RFC 7518 §3.4: R ‖ S, each the size of the group order (32 / 48 bytes).
  ES256: 64,
  ES384: 96,
  // RFC 8037 §3.1 / RFC 8032 §5.1.6: 64 bytes.
  EdDSA: 64,
  // RFC 7518 §3.2: the full HMAC output; truncated MACs are not accepted.
  HS256: 32,
  HS384: 48,
  HS512: 64,
}

const rsaLength = new WeakMap<CryptoKey, number>()

/**
 * The exact signature length `key` produces: fixed per algorithm, or the modulus size in bytes for RSA
 * (RFC 8017 §8.2.2 step 1 / §8.1.2 step 1: any other length is invalid).
 *
 * @example expectedSignatureLength(es256Key) // 64
 */
export function expectedSignatureLength(key: JwsKey): number {
  const fixed = FIXED_LENGTH[key.alg]
  if (fixed !== undefined) return fixed
  let length = rsaLength.get(key.cryptoKey)
  if (length === undefined) {
    length = Math.ceil(
      (key.cryptoKey.algorithm as unknown as { modulusLength: number }).modulusLength / 8,
    )
    rsaLength.set(key.cryptoKey, length)
  }
  return length
}

// Parameter types taken from SubtleCrypto itself: the DOM lib and workers-types name them differently.
type VerifyParams = Parameters<SubtleCrypto['verify']>[0]

const VERIFY_PARAMS: Record<JwsKey['alg'], VerifyParams> = {
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  ES384: { name: 'ECDSA', hash: 'SHA-384' },
  EdDSA: { name: 'Ed25519' },
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  RS384: { name: 'RSASSA-PKCS1-v1_5' },
  RS512: { name: 'RSASSA-PKCS1-v1_5' },
  // RFC 7518 §3.5: the salt is as long as the hash output.
  PS256: { name: 'RSA-PSS', saltLength: 32 },
  PS384: { name: 'RSA-PSS', saltLength: 48 },
  PS512: { name: 'RSA-PSS', saltLength: 64 },
  HS256: { name: 'HMAC' },
  HS384: { name: 'HMAC' },
  HS512: { name: 'HMAC' },
}

/**
 * Verifies with WebCrypto (`crypto.subtle.verify`). Resolves false on any failure, never rejects.
 *
 * @example await verifyWithWebCrypto(key, signingInput, signature) // true | false
 */
export async function verifyWithWebCrypto(
  key: JwsKey,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== expectedSignatureLength(key)) return false
  try {
    return await crypto.subtle.verify(
      VERIFY_PARAMS[key.alg],
      key.cryptoKey,
      signature as Uint8Array<ArrayBuffer>,
      data as Uint8Array<ArrayBuffer>,
    )
  } catch {
    return false
  }
}

/**
 * The default `SignatureCheck`: WebCrypto, available on every runtime we target.
 *
 * @example createAccessTokenVerifier({ ..., checkSignature: webCryptoSignatureCheck })
 */
export const webCryptoSignatureCheck: SignatureCheck = verifyWithWebCrypto
