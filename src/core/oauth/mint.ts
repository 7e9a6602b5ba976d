/**
 * Mints access tokens (RFC 9068) and ID tokens (OIDC Core §2) with the active signing key.
 * Access token: header `typ: at+jwt` (RFC 9068 §2.1), claims `iss sub aud exp iat jti client_id scope`
 * plus `sid` and `auth_time` for user tokens (RFC 9068 §2.2); `jti` is 128 random bits.
 * ID token: `aud` = client_id, `nonce` echoed, `auth_time`, `sid`, `at_hash` (OIDC Core §3.1.3.6).
 *
 * @example
 * const signer = createTokenSigner({ issuer, keys, accessTokenTtlSeconds: 600, idTokenTtlSeconds: 600 })
 * const { token, jti, exp } = await signer.accessToken({ sub, clientId, scope: 'read', aud })
 */
import { base64url, SignJWT } from 'jose'
import type { Clock } from '../types.ts'
import type { SigningAlgorithm } from './config.ts'
import { randomToken } from './crypto.ts'
import type { SigningKeySet } from './keys.ts'

export interface AccessTokenInput {
  sub: string
  clientId: string
  scope: string
  aud: string
  sid?: string | undefined
  authTime?: number | undefined
  /** Pre-generated id, when the caller must record it before the token exists (code redemption). */
  jti?: string | undefined
}

export interface MintedAccessToken {
  token: string
  jti: string
  /** Seconds since the epoch. */
  exp: number
  expiresIn: number
}

export interface IdTokenInput {
  sub: string
  clientId: string
  authTime: number
  nonce?: string | undefined
  sid?: string | undefined
  accessToken?: string | undefined
}

export interface TokenSigner {
  accessToken(input: AccessTokenInput): Promise<MintedAccessToken>
  idToken(input: IdTokenInput): Promise<string>
}

export interface TokenSignerOptions {
  issuer: string
  keys: SigningKeySet
  accessTokenTtlSeconds: number
  idTokenTtlSeconds: number
  clock?: Clock
}

// OIDC Core §3.1.3.6: the hash of the JWS alg's hash function; Ed25519 uses SHA-512.
const AT_HASH: Record<SigningAlgorithm, string> = {
  ES256: 'SHA-256',
  RS256: 'SHA-256',
  PS256: 'SHA-256',
  ES384: 'SHA-384',
  EdDSA: 'SHA-512',
}

/** Left-most half of the hash of the access token, base64url (OIDC Core §3.1.3.6). */
export async function atHash(accessToken: string, alg: SigningAlgorithm): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(AT_HASH[alg], new TextEncoder().encode(accessToken)),
  )
  return base64url.encode(digest.subarray(0, digest.length / 2))
}

export function createTokenSigner(options: TokenSignerOptions): TokenSigner {
  const { issuer, keys, accessTokenTtlSeconds, idTokenTtlSeconds } = options
  const clock = options.clock ?? Date.now
  const { kid, alg, privateKey } = keys.active
  return {
    async accessToken(input) {
      const iat = Math.floor(clock() / 1000)
      const exp = iat + accessTokenTtlSeconds
      const jti = input.jti ?? randomToken(16)
      const claims: Record<string, unknown> = {
        client_id: input.clientId,
        scope: input.scope,
      }
      if (input.sid) claims['sid'] = input.sid
      if (input.authTime !== undefined) claims['auth_time'] = input.authTime
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(input.sub)
        .setAudience(input.aud)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(privateKey)
      return { token, jti, exp, expiresIn: accessTokenTtlSeconds }
    },
    async idToken(input) {
      const iat = Math.floor(clock() / 1000)
      const claims: Record<string, unknown> = { auth_time: input.authTime }
      if (input.nonce !== undefined) claims['nonce'] = input.nonce
      if (input.sid) claims['sid'] = input.sid
      if (input.accessToken) claims['at_hash'] = await atHash(input.accessToken, alg)
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(input.sub)
        .setAudience(input.clientId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + idTokenTtlSeconds)
        .sign(privateKey)
    },
  }
}
