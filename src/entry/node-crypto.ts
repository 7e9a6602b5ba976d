/**
 * Synchronous `node:crypto` versions of the OAuth core's hot-path primitives, injected by the Node
 * origin (the core defaults to WebCrypto, one code path for every runtime). On Node 22 each WebCrypto
 * call is a job queued to the libuv pool and resolved on a later turn; measured here, a SHA-256 of a
 * client secret costs ~85 µs that way against ~2 µs with `createHash`, and an ES256 signature ~40 µs
 * against ~32 µs with `sign`. `/token` client_credentials does one of each per request.
 * KeyObjects and sign options are built once per key and cached on the CryptoKey.
 *
 * @example
 * const oauth = await createOAuthContext({ config, store, passwords, crypto: nodeOAuthCrypto })
 */
import { availableParallelism } from 'node:os'
import * as nodeCrypto from 'node:crypto'
import { constants, createHash, KeyObject, sign, type SignKeyObjectInput } from 'node:crypto'
import type { OAuthCrypto } from '../core/oauth/context.ts'
import type { Sha256 } from '../core/oauth/crypto.ts'
import type { SigningKey } from '../core/oauth/keys.ts'
import type { JwsSign } from '../core/oauth/mint.ts'

interface Prepared {
  /** `null` for Ed25519, which hashes internally (RFC 8032 §5.1.6). */
  hash: string | null
  key: SignKeyObjectInput
}

const prepared = new WeakMap<CryptoKey, Prepared>()

function prepare(key: SigningKey): Prepared {
  const keyObject = KeyObject.from(key.privateKey)
  switch (key.alg) {
    // JWS carries ECDSA signatures as R ‖ S (RFC 7518 §3.4), not the DER OpenSSL emits by default.
    case 'ES256':
      return { hash: 'sha256', key: { key: keyObject, dsaEncoding: 'ieee-p1363' } }
    case 'ES384':
      return { hash: 'sha384', key: { key: keyObject, dsaEncoding: 'ieee-p1363' } }
    case 'EdDSA':
      return { hash: null, key: { key: keyObject } }
    case 'RS256':
      return { hash: 'sha256', key: { key: keyObject, padding: constants.RSA_PKCS1_PADDING } }
    case 'PS256':
      // RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash (32 bytes).
      return {
        hash: 'sha256',
        key: { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      }
    default:
      throw new TypeError('unsupported signing algorithm')
  }
}

/**
 * `JwsSign` with synchronous `node:crypto.sign`; returns the base64url signature.
 *
 * @example createTokenSigner({ ..., sign: nodeJwsSign })
 */
export const nodeJwsSign: JwsSign = (key, signingInput) => {
  let entry = prepared.get(key.privateKey)
  if (entry === undefined) {
    entry = prepare(key)
    prepared.set(key.privateKey, entry)
  }
  // The signing input is base64url segments and a dot: ASCII, so latin1 is its exact byte encoding.
  return sign(entry.hash, Buffer.from(signingInput, 'latin1'), entry.key).toString('base64url')
}

// Read off the namespace: a named import of `hash` would fail to link on Node 20, which lacks it.
const oneShotHash = (nodeCrypto as Partial<typeof nodeCrypto>).hash

/**
 * `Sha256` with `node:crypto` (`hash`, else `createHash`): the same base64url digest as the core's
 * WebCrypto `sha256` (UTF-8 input; lone surrogates become U+FFFD in both).
 *
 * @example createClientRegistry(config.clients, { sha256: nodeSha256 })
 */
export const nodeSha256: Sha256 =
  // crypto.hash (Node ≥ 21.7) is one call instead of a Hash object and three; Node 20 has no hash.
  typeof oneShotHash === 'function'
    ? (value) => oneShotHash('sha256', value, 'base64url')
    : (value) => createHash('sha256').update(value, 'utf8').digest('base64url')

/** Every primitive the OAuth core lets a runtime replace, for `createOAuthContext({ crypto })`. */
export const nodeOAuthCrypto: OAuthCrypto = { sha256: nodeSha256, signJws: nodeJwsSign }

/**
 * What the origin uses: the synchronous hash always (a WebCrypto digest waits ~85 µs on the thread
 * pool for a few bytes), and for signing the same rule as verification (node-signature.ts): with a
 * second core WebCrypto signs on libuv's thread pool, which served 1.30× the /token requests/s of the
 * synchronous sign on 2 cores (bench:token, 15.7k vs 12.1k); on one core the synchronous sign.
 *
 * @example createOAuthContext({ config, store, passwords, revoker, crypto: preferredOAuthCrypto() })
 */
export function preferredOAuthCrypto(): Partial<OAuthCrypto> {
  return availableParallelism() > 1 ? { sha256: nodeSha256 } : nodeOAuthCrypto
}
