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
import { createBatchedJwsSign } from './node-sign-batch.ts'

export interface Prepared {
  /** `null` for Ed25519, which hashes internally (RFC 8032 §5.1.6). */
  hash: string | null
  key: SignKeyObjectInput
}

const prepared = new WeakMap<CryptoKey, Prepared>()

/**
 * The `node:crypto.sign` hash and key input for `key`, built once per key (also handed to the
 * batched signer's worker, node-sign-batch.ts).
 *
 * @example const { hash, key: input } = preparedSignKey(keys.active)
 */
export function preparedSignKey(key: SigningKey): Prepared {
  let entry = prepared.get(key.privateKey)
  if (entry === undefined) {
    entry = prepare(key)
    prepared.set(key.privateKey, entry)
  }
  return entry
}

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
  const entry = preparedSignKey(key)
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

/** One batched signer (and at most one signing worker) per process, made when first asked for. */
let batchedSign: JwsSign | undefined

/**
 * What the origin uses: the synchronous hash always (a WebCrypto digest waits ~85 µs on the thread
 * pool for a few bytes), and signatures batched per event-loop turn (node-sign-batch.ts) — on a
 * worker thread when there is a second core, else on the main thread. On a bare /token server here
 * that costs 68 µs of CPU per request (35 on the main thread) against 90 (52) with WebCrypto and 84
 * with the synchronous sign.
 *
 * @example createOAuthContext({ config, store, passwords, revoker, crypto: preferredOAuthCrypto() })
 */
export function preferredOAuthCrypto(): Partial<OAuthCrypto> {
  batchedSign ??= createBatchedJwsSign({ thread: availableParallelism() > 1 })
  return { sha256: nodeSha256, signJws: batchedSign }
}
