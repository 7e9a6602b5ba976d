/**
 * A synchronous `node:crypto` signature check for the Node origin. On Node 22 a bare `crypto.verify`
 * for ES256 is measurably faster than `crypto.subtle.verify` (~129 µs vs ~144 µs here, DESIGN.md), and
 * the cold-verify target is relative to the fastest bare check on the runtime, so Node gets its own.
 * KeyObjects and verify options are built once per key and cached on the key object.
 */
import { availableParallelism } from 'node:os'
import { constants, KeyObject, verify, type VerifyKeyObjectInput } from 'node:crypto'
import type { VerificationKey } from '../core/jwks.ts'
import { expectedSignatureLength, type SignatureCheck } from '../core/signature.ts'

interface Prepared {
  hash: string | null
  input: KeyObject | (VerifyKeyObjectInput & { saltLength?: number; padding?: number })
  /** The only signature length the key produces (`expectedSignatureLength`). */
  length: number
}

const prepared = new WeakMap<VerificationKey, Prepared>()
/** The key of the last check and its entry: tokens of one key in a row skip the WeakMap lookup. */
let lastKey: VerificationKey | undefined
let lastEntry: Prepared | undefined

function prepare(key: VerificationKey): Prepared {
  return { ...verifyInput(key), length: expectedSignatureLength(key) }
}

function verifyInput(key: VerificationKey): Omit<Prepared, 'length'> {
  const keyObject = KeyObject.from(key.cryptoKey)
  switch (key.alg) {
    // JWS carries ECDSA signatures as R ‖ S (RFC 7518 §3.4), not DER.
    case 'ES256':
      return { hash: 'sha256', input: { key: keyObject, dsaEncoding: 'ieee-p1363' } }
    case 'ES384':
      return { hash: 'sha384', input: { key: keyObject, dsaEncoding: 'ieee-p1363' } }
    case 'EdDSA':
      return { hash: null, input: keyObject }
    case 'RS256':
      // An RSA (not RSA-PSS) KeyObject verifies with PKCS #1 v1.5 padding unless told otherwise:
      // the same call as a bare check, without an options object to read.
      return { hash: 'sha256', input: keyObject }
    case 'PS256':
      // RFC 7518 §3.5: MGF1 with SHA-256 and a 32-byte salt.
      return {
        hash: 'sha256',
        input: { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      }
    default:
      throw new TypeError('unsupported algorithm')
  }
}

/**
 * `SignatureCheck` using synchronous `node:crypto.verify`. Returns false (never throws) for a bad
 * signature, including one of the wrong length, which is rejected before OpenSSL sees it.
 *
 * @example
 * createAccessTokenVerifier({ issuer, audience, keys, checkSignature: nodeSignatureCheck })
 */
export const nodeSignatureCheck: SignatureCheck = checkWithNodeCrypto

function checkWithNodeCrypto(
  key: VerificationKey,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  let entry = key === lastKey ? lastEntry : prepared.get(key)
  if (entry === undefined) {
    entry = prepare(key)
    prepared.set(key, entry)
  }
  lastKey = key
  lastEntry = entry
  if (signature.length !== entry.length) return false
  try {
    return verify(entry.hash, data, entry.input, signature)
  } catch {
    return false
  }
}
// Answers before it returns and keeps neither input (see SignatureCheck.synchronous).
checkWithNodeCrypto.synchronous = true

/**
 * The signature check the Node entry uses: with a second core, WebCrypto (verified on libuv's thread
 * pool) serves more cold /verify requests than the synchronous node:crypto check (1.12× over HTTP, 10
 * connections, 2 cores); on one core the synchronous check wins (WebCrypto 0.95×). `undefined` means
 * the core's WebCrypto default. A cgroup CPU quota is not seen here: pin with one core if limited.
 *
 * @example appFromConfig(config, { role: 'origin', logger, checkSignature: preferredSignatureCheck() })
 */
export function preferredSignatureCheck(): SignatureCheck | undefined {
  return availableParallelism() > 1 ? undefined : nodeSignatureCheck
}
