/**
 * PKCE (RFC 7636) with S256 only: OAuth 2.1 and RFC 9700 §2.1.1 require PKCE for every client, and
 * `plain` protects nothing once the authorization request leaks, so it is not offered.
 */
import { encodeBase64Url } from '../base64url.ts'
import { timingSafeEqual } from './crypto.ts'

// RFC 7636 §4.1: code_verifier = 43*128unreserved.
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/
// RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(verifier)) = exactly 43 characters.
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/

/** True if `challenge` has the shape of an S256 code_challenge. */
export const isValidCodeChallenge = (challenge: string): boolean => CHALLENGE.test(challenge)

/** True if `verifier` is syntactically a code_verifier (RFC 7636 §4.1). */
export const isValidCodeVerifier = (verifier: string): boolean => VERIFIER.test(verifier)

/**
 * Computes the S256 challenge of a verifier (RFC 7636 §4.2).
 *
 * @example await s256Challenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk') // 'E9Melhoa2Owv...'
 */
export async function s256Challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return encodeBase64Url(new Uint8Array(digest))
}

/**
 * Checks a code_verifier against the stored S256 challenge (RFC 7636 §4.6), in constant time.
 *
 * @example if (!(await verifyPkce(params.code_verifier, code.codeChallenge))) throw invalidGrant()
 */
export async function verifyPkce(verifier: string, challenge: string): Promise<boolean> {
  if (!isValidCodeVerifier(verifier)) return false
  return timingSafeEqual(await s256Challenge(verifier), challenge)
}
