/**
 * Access-token claim checks (RFC 9068 §4, RFC 7519 §4.1). Runs after the signature check, so the
 * errors it raises describe authentic tokens only. Plain comparisons, no schema library: this is on
 * the hot path and costs well under a microsecond.
 */
import { AuthError } from './errors.ts'
import type { AccessTokenClaims } from './types.ts'

/**
 * Decides an `aud` claim (given as a list) for a verifier that accepts more than one audience, e.g.
 * the origin introspecting tokens it minted for any of its resource servers (RFC 7662 §2.2).
 */
export type AudienceRule = (audiences: readonly string[]) => boolean

export interface ClaimsPolicy {
  issuer: string
  /** The audience `aud` must contain, or a rule over the whole list. */
  audience: string | AudienceRule
  /** Allowed clock skew in seconds, 0–60. */
  leewaySeconds: number
  /**
   * How far in the future `iat` may be; default `leewaySeconds`. An origin checking a token another
   * origin of its own fleet minted allows the fleet's clock skew here without extending `exp`.
   */
  issuedAtSkewSeconds?: number
}

const invalidClaim = (name: string, what: string) =>
  new AuthError('claim_invalid', `claim "${name}" ${what}`)

/*
 * The helpers below take the member's value, not the payload and a name: each claim is then read
 * at its own place (`payload.exp`), which V8 answers from the payload's shape; a read by computed
 * name at one place sees every name and takes a slower generic lookup (issue 15, cold verify).
 */

/** RFC 7519 §2 NumericDate: a finite JSON number (seconds, fractions allowed). */
function numericDate(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalidClaim(name, 'is not a number')
  return value
}

function optionalString(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'string') throw invalidClaim(name, 'is not a string')
}

/**
 * Checks the claims of a verified payload at `nowSeconds` and returns them typed. Required: `iss`
 * equal to the issuer, `aud` containing the audience, `exp` in the future, `sub` a non-empty string.
 * Checked when present: `nbf`, `iat` (not in the future), and `jti`, `client_id`, `scope`, `sid` are
 * strings.
 *
 * @example checkAccessTokenClaims(payload, { issuer, audience, leewaySeconds: 0 }, Date.now() / 1000)
 */
export function checkAccessTokenClaims(
  payload: Record<string, unknown>,
  policy: ClaimsPolicy,
  nowSeconds: number,
): AccessTokenClaims {
  const leeway = policy.leewaySeconds
  // RFC 9068 §4 step 2 / RFC 7519 §4.1.1: exact string comparison, no normalisation.
  if (payload.iss !== policy.issuer)
    throw new AuthError('issuer_mismatch', 'token issuer is not accepted')

  // RFC 9068 §4 step 3 / RFC 7519 §4.1.3: a string, or an array of strings, containing our audience.
  const aud = payload.aud
  if (typeof policy.audience === 'function') {
    const list = Array.isArray(aud) ? aud : [aud]
    if (list.length === 0 || list.some((value) => typeof value !== 'string' || value === ''))
      throw invalidClaim('aud', 'is not a string or string array')
    if (!policy.audience(list as string[]))
      throw new AuthError('audience_mismatch', 'token is not intended for this audience')
  } else if (Array.isArray(aud)) {
    if (aud.some((value) => typeof value !== 'string'))
      throw invalidClaim('aud', 'is not a string array')
    if (!aud.includes(policy.audience)) {
      throw new AuthError('audience_mismatch', 'token is not intended for this audience')
    }
  } else if (aud !== policy.audience) {
    throw new AuthError('audience_mismatch', 'token is not intended for this audience')
  }

  // RFC 7519 §4.1.4: expired "on or after" exp; RFC 9068 §2.2 makes exp required.
  const exp = numericDate(payload.exp, 'exp')
  if (exp === undefined) throw invalidClaim('exp', 'is missing')
  if (nowSeconds >= exp + leeway) throw new AuthError('token_expired', 'token has expired')

  // RFC 7519 §4.1.5: not accepted before nbf.
  const nbf = numericDate(payload.nbf, 'nbf')
  if (nbf !== undefined && nowSeconds + leeway < nbf) {
    throw new AuthError('token_not_yet_valid', 'token is not valid yet')
  }

  // RFC 7519 §4.1.6: an iat in the future means a wrong clock or a forged lifetime.
  const iat = numericDate(payload.iat, 'iat')
  if (iat !== undefined && iat > nowSeconds + (policy.issuedAtSkewSeconds ?? leeway)) {
    throw new AuthError('token_issued_in_future', 'token is issued in the future')
  }

  // RFC 9068 §2.2: sub is required.
  if (typeof payload.sub !== 'string' || payload.sub === '') throw invalidClaim('sub', 'is missing')
  optionalString(payload.jti, 'jti')
  optionalString(payload.client_id, 'client_id')
  optionalString(payload.scope, 'scope')
  optionalString(payload.sid, 'sid')
  return payload as AccessTokenClaims
}
