/**
 * The origin's signing keys (DESIGN.md, Keys). Statuses move `next → active → retiring → retired`:
 * `next` is published before it signs (so every edge has it cached when it starts signing), exactly one
 * `active` key signs, `retiring` stays published until every token it signed has expired, `retired` is
 * neither published nor loaded. The JWKS carries public members only.
 *
 * @example
 * const keys = await loadSigningKeys(config.keys)
 * keys.publicJwks() // { keys: [{ kty: 'EC', kid: '2025-06', alg: 'ES256', use: 'sig', ... }] }
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'
import {
  ConfigError,
  type KeyStatus,
  type SigningAlgorithm,
  type SigningKeyConfig,
} from './config.ts'

/** Members that make a JWK private (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2). Never published. */
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'])
/** Public members per key type; anything else (our `status`, `ext`, `key_ops`) is not published. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
}

const EXPECTED: Record<SigningAlgorithm, { kty: string; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
}

export interface LoadedKey {
  kid: string
  alg: SigningAlgorithm
  /** The key's status when this object was handed out (a managed set moves on with the clock). */
  status: Exclude<KeyStatus, 'retired'>
  publicJwk: JWK & { kid: string; alg: SigningAlgorithm; use: 'sig' }
  /** Present for `next` and `active` keys (and `retiring` keys configured with private members). */
  privateKey: CryptoKey | undefined
  publicKey: CryptoKey
}

/** A loaded key with its private half: what the token signer signs with. */
export type SigningKey = LoadedKey & { privateKey: CryptoKey }

/**
 * The origin's keys as the OAuth core sees them. A static set (`loadSigningKeys`, from the config)
 * never changes; the managed set (key-lifecycle.ts) follows the key set in L2, so `active`, `all` and
 * `publicJwks()` may differ from one call to the next, without a restart.
 */
export interface SigningKeySet {
  /** The one key that signs now. Throws `OAuthError('temporarily_unavailable')` when none can. */
  readonly active: SigningKey
  /**
   * `active`, after making sure the set is current enough to sign with (a managed set re-reads L2
   * first when its last read is overdue). The token signer uses it when present.
   */
  signingKey?(): Promise<SigningKey>
  /** Every published key now (next, active, retiring). */
  readonly all: readonly LoadedKey[]
  /** The public JWKS (RFC 7517 §5): next, active and retiring keys, public members only. */
  publicJwks(): { keys: LoadedKey['publicJwk'][] }
  /**
   * A published key (next, active or retiring) that may verify a token we signed, by kid: every
   * published key, because during a rollout another origin may already sign with what is still
   * `next` here. Resolves undefined for a kid that is not ours; rejects with
   * `OAuthError('temporarily_unavailable')` when the set cannot be read to tell.
   */
  verificationKey(kid: string): Promise<LoadedKey | undefined>
  /** `Cache-Control: max-age` of the JWKS and discovery. */
  readonly cacheSeconds: number
}

const fail = (index: number, message: string): never => {
  throw new ConfigError([{ field: `config.keys[${index}]`, message }])
}

/** The public half of a JWK: public members of its type plus kid, alg, use. */
export function toPublicJwk(jwk: SigningKeyConfig): LoadedKey['publicJwk'] {
  const members = PUBLIC_MEMBERS[jwk.kty] ?? []
  const out: Record<string, unknown> = {}
  for (const m of members) if (m in jwk && !PRIVATE_MEMBERS.has(m)) out[m] = jwk[m]
  return { ...(out as JWK), kid: jwk.kid, alg: jwk.alg, use: 'sig' }
}

/**
 * The JWK of a configured key: our own members (`status`, `retiringSince`) are not JWK members.
 *
 * @example await importJWK(jwkOf(config.keys[0]), 'ES256')
 */
export function jwkOf(key: SigningKeyConfig): JWK & { kid: string; alg: SigningAlgorithm } {
  const rest = Object.fromEntries(
    Object.entries(key).filter(([k]) => k !== 'status' && k !== 'retiringSince'),
  )
  return rest as JWK & { kid: string; alg: SigningAlgorithm }
}

async function loadKey(jwk: SigningKeyConfig, index: number): Promise<LoadedKey | undefined> {
  if (jwk.status === 'retired') return undefined
  const expected = EXPECTED[jwk.alg]
  if (jwk.kty !== expected.kty || (expected.crv && jwk['crv'] !== expected.crv))
    fail(
      index,
      `alg ${jwk.alg} needs kty ${expected.kty}${expected.crv ? ` crv ${expected.crv}` : ''}`,
    )
  if (jwk.kty === 'RSA') {
    const n = typeof jwk['n'] === 'string' ? jwk['n'] : ''
    // RFC 7518 §3.3: RSA keys of 2048 bits or more (342 base64url characters encode 2048 bits).
    if (n.length < 342) fail(index, 'RSA keys must be at least 2048 bits')
  }
  const hasPrivate = typeof jwk['d'] === 'string'
  if ((jwk.status === 'active' || jwk.status === 'next') && !hasPrivate)
    fail(index, `a "${jwk.status}" key needs its private member "d"`)
  const publicJwk = toPublicJwk(jwk)
  let publicKey: CryptoKey
  let privateKey: CryptoKey | undefined
  try {
    publicKey = (await importJWK(publicJwk, jwk.alg)) as CryptoKey
    if (hasPrivate) {
      privateKey = (await importJWK(jwkOf(jwk), jwk.alg, { extractable: false })) as CryptoKey
    }
  } catch {
    return fail(index, 'key material is not a valid JWK for its alg')
  }
  return { kid: jwk.kid, alg: jwk.alg, status: jwk.status, publicJwk, privateKey, publicKey }
}

/**
 * Imports the configured keys and checks them once at start. Throws `ConfigError` naming the key.
 *
 * @example const keys = await loadSigningKeys(config.keys)
 */
export async function loadSigningKeys(
  configured: readonly SigningKeyConfig[],
): Promise<SigningKeySet> {
  const loaded = (await Promise.all(configured.map(loadKey))).filter((k) => k !== undefined)
  const actives = loaded.filter((k) => k.status === 'active')
  const active = actives[0]
  if (actives.length !== 1 || !active?.privateKey)
    throw new ConfigError([{ field: 'config.keys', message: 'exactly one key must be "active"' }])
  const signer = active as SigningKey
  const published = loaded.map((k) => k.publicJwk)
  // Every published key verifies, `next` included (docs/keys.md: a rolling promote).
  const byKid = new Map(loaded.map((k) => [k.kid, k]))
  return {
    active: signer,
    all: loaded,
    publicJwks: () => ({ keys: published.map((k) => ({ ...k })) }),
    verificationKey: (kid) => Promise.resolve(byKid.get(kid)),
    cacheSeconds: 300,
  }
}

/**
 * A fresh ES256 key for development when none is configured (the caller logs a warning). Its kid is the
 * RFC 7638 thumbprint, so two processes sharing one through the store agree on it.
 *
 * @example const key = await generateSigningKey('ES256')
 */
export async function generateSigningKey(
  alg: SigningAlgorithm = 'ES256',
  status: KeyStatus = 'active',
): Promise<SigningKeyConfig> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' || alg === 'PS256' ? { modulusLength: 3072 } : {}),
  })
  const jwk = await exportJWK(privateKey)
  const kid = await calculateJwkThumbprint(jwk)
  return { ...(jwk as SigningKeyConfig), kid, alg, status }
}
