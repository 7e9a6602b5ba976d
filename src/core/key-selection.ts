/**
 * Turning a JWKS into imported keys, and picking the key for a token. Shared by the access-token key
 * sets (jwks.ts) and the general JWS verifier (jws-verify.ts).
 */
import { AuthError } from './errors.ts'
import {
  importJwk,
  KeyImportError,
  type ImportJwkOptions,
  type JwsAlg,
  type JwsKey,
} from './keys.ts'

export interface BuildKeysOptions {
  /** Allowed algorithms per `kid`; keys not listed use their own `alg` (or their curve's). */
  algorithms?: Record<string, readonly JwsAlg[]> | undefined
  supported?: readonly JwsAlg[] | undefined
  allowSymmetric?: boolean | undefined
  /**
   * `strict` (static configuration): an invalid key, a duplicate `kid`, a mix of secret and public
   * keys or an empty result throws a TypeError naming the key. `lenient` (a fetched JWKS): invalid
   * keys and every key sharing a duplicated `kid` are dropped; only an empty result throws.
   * Unusable keys (`use: enc`, unsupported types) are skipped in both modes.
   */
  mode: 'strict' | 'lenient'
}

const describe = (index: number, kid: unknown) =>
  typeof kid === 'string' ? `key ${index} (kid "${kid}")` : `key ${index}`

/**
 * Imports every usable key of a JWKS (`{ keys: [...] }`, RFC 7517 §5).
 *
 * @example const keys = await buildKeys({ keys: [jwk] }, { mode: 'strict' })
 */
export async function buildKeys(jwks: unknown, options: BuildKeysOptions): Promise<JwsKey[]> {
  const list = (jwks as { keys?: unknown } | null)?.keys
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(list)) {
    throw new TypeError('JWKS must be an object with a "keys" array')
  }
  const strict = options.mode === 'strict'
  const imported: JwsKey[][] = []
  const kidCount = new Map<string, number>()
  for (const [index, jwk] of list.entries()) {
    const kid = (jwk as { kid?: unknown } | null)?.kid
    const importOptions: ImportJwkOptions = {
      supported: options.supported,
      allowSymmetric: options.allowSymmetric,
      algorithms: typeof kid === 'string' ? options.algorithms?.[kid] : undefined,
    }
    try {
      imported.push(await importJwk(jwk, importOptions))
      if (typeof kid === 'string') kidCount.set(kid, (kidCount.get(kid) ?? 0) + 1)
    } catch (error) {
      if (!(error instanceof KeyImportError)) throw error
      if (strict && error.problem === 'invalid') {
        throw new TypeError(`JWKS ${describe(index, kid)}: ${error.message}`)
      }
    }
  }
  let keys = imported.flat()
  // Two keys under one kid make selection ambiguous (Wycheproof "DuplicateKid").
  const duplicated = [...kidCount].filter(([, count]) => count > 1).map(([kid]) => kid)
  if (duplicated.length > 0) {
    if (strict) throw new TypeError(`JWKS has several keys with kid "${duplicated[0]}"`)
    keys = keys.filter((key) => key.kid === undefined || !duplicated.includes(key.kid))
  }
  // A set mixing HMAC secrets with public keys invites algorithm confusion (RFC 8725 §2.1).
  const secret = keys.filter((key) => key.alg.startsWith('HS')).length
  if (secret > 0 && secret < keys.length) {
    throw new TypeError('JWKS mixes secret (oct) and public keys')
  }
  if (keys.length === 0) throw new TypeError('JWKS has no usable signature keys')
  return keys
}

/**
 * Picks the key for a token: by `kid` when present (unknown kid → `kid_unknown`, known kid but
 * another algorithm → `alg_not_allowed`); without a kid only when exactly one key allows `alg`. The
 * algorithm is always the key's, never the token's alone (RFC 8725 §3.1).
 *
 * @example const key = selectKey(keys, header.kid, header.alg)
 */
export function selectKey<K extends JwsKey>(
  keys: readonly K[],
  kid: string | undefined,
  alg: string,
): K {
  let match: K | undefined
  let kidSeen = false
  let count = 0
  for (const key of keys) {
    if (kid !== undefined) {
      if (key.kid !== kid) continue
      kidSeen = true
    }
    if (key.alg === alg) {
      match = key
      count++
    }
  }
  if (kid !== undefined && !kidSeen) throw new AuthError('kid_unknown', 'token key id is not known')
  if (match === undefined) {
    throw new AuthError('alg_not_allowed', 'token algorithm is not allowed for this key')
  }
  if (count > 1) {
    throw new AuthError('kid_unknown', 'token has no key id and several keys could verify it')
  }
  return match
}
