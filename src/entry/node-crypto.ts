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
 * The fewest cores on which signatures go to the worker thread. Measured on this 2-core machine
 * (round 9): interleaved A/B of the built origin at saturation against node-oidc-provider
 * (autocannon -c 10 from another process, 6 rounds of 4 s, medians), the worker (before) against the
 * main thread: 97 → 83 µs of CPU per `/token` and 3.20× → 3.38× the peer's requests/s at load 5.5–7.3;
 * 94 → 80 µs and 2.84× → 3.59× with the bench at nice -19 (load 7). The worker took ~21 µs per token
 * off the main thread (60 vs 81 µs there) but spent ~37 µs on its own thread for it (the signature
 * plus the hand-off: `postMessage`, the wake-up, the answer), and with two cores the second one is
 * not free: the clients, other processes and the worker take turns on it. With more cores the worker takes the
 * signatures off the main thread, which is then the limit (not measured here).
 */
const SIGN_WORKER_MIN_CORES = 3

/**
 * What the origin uses: the synchronous hash always (a WebCrypto digest waits ~85 µs on the thread
 * pool for a few bytes), and signatures batched per event-loop turn (node-sign-batch.ts) — on the
 * main thread with up to two cores, on a worker thread with more (`SIGN_WORKER_MIN_CORES`).
 *
 * @example createOAuthContext({ config, store, passwords, revoker, crypto: preferredOAuthCrypto() })
 */
export function preferredOAuthCrypto(): Partial<OAuthCrypto> {
  batchedSign ??= createBatchedJwsSign({
    thread: availableParallelism() >= SIGN_WORKER_MIN_CORES,
  })
  return { sha256: nodeSha256, signJws: batchedSign }
}
