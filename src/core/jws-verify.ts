/**
 * General compact-JWS verification (RFC 7515 §5.2) with explicitly given keys: any payload bytes, and
 * a wider algorithm set than access tokens (RS384/512, PS384/512, and HS256/384/512 for `oct` keys
 * handed over explicitly). Access tokens go through verify.ts instead, which never accepts HMAC.
 */
import { AuthError } from './errors.ts'
import { buildKeys, selectKey } from './key-selection.ts'
import type { JwsAlg, JwsKey } from './keys.ts'
import { parseCompactJwsRaw } from './jws.ts'
import { verifyWithWebCrypto } from './signature.ts'
import type { JwsHeader } from './types.ts'

/** Every algorithm `importJwsKeys` accepts. */
export const JWS_ALGS: readonly JwsAlg[] = [
  'ES256',
  'ES384',
  'EdDSA',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'HS256',
  'HS384',
  'HS512',
]

/**
 * Imports a JWKS for `verifyCompactJws`, strictly: an invalid key, duplicate kids, or a mix of
 * secret and public keys throws a TypeError. `oct` keys need an explicit HS* `alg`.
 *
 * @example const keys = await importJwsKeys({ keys: [{ kty: 'oct', alg: 'HS256', k: '…' }] })
 */
export function importJwsKeys(jwks: { keys: unknown[] }): Promise<JwsKey[]> {
  return buildKeys(jwks, { supported: JWS_ALGS, allowSymmetric: true, mode: 'strict' })
}

/**
 * Verifies a compact JWS against `keys` and returns its header and payload bytes; rejects with an
 * `AuthError` otherwise. The key is picked by kid (or is the only one for the alg), and the token's
 * `alg` must be the key's own.
 *
 * @example const { payload } = await verifyCompactJws(token, await importJwsKeys(jwks))
 */
export async function verifyCompactJws(
  token: string,
  keys: readonly JwsKey[],
  maxLength?: number,
): Promise<{ header: JwsHeader; payload: Uint8Array }> {
  const { header, payload, signingInput, signature } = parseCompactJwsRaw(token, maxLength)
  const key = selectKey(keys, header.kid, header.alg)
  if (!(await verifyWithWebCrypto(key, signingInput, signature))) {
    throw new AuthError('signature_invalid', 'signature is invalid')
  }
  return { header, payload }
}
