/**
 * Verifying tokens this origin signed, with its own keys (no network): access tokens for /userinfo,
 * /introspect and /revoke, ID tokens given back as `id_token_hint` at /logout. Algorithms come from the
 * key matched by `kid`, never from the token alone (RFC 8725 §3.1); access tokens must be
 * `typ: at+jwt` (RFC 9068 §4) and not revoked.
 *
 * @example const claims = await verifyOwnAccessToken(oauth, token) // undefined when not valid
 */
import { compactVerify, errors, jwtVerify, type JWTPayload, type JWSHeaderParameters } from 'jose'
import type { OAuthContext } from './context.ts'

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const MAX_TOKEN_LENGTH = 8192

function keyFor(ctx: OAuthContext) {
  return (header: JWSHeaderParameters): CryptoKey => {
    const key = header.kid === undefined ? undefined : ctx.keys.verificationKey(header.kid)
    if (!key || key.alg !== header.alg) throw new errors.JWKSNoMatchingKey()
    return key.publicKey
  }
}

const looksLikeJwt = (token: string): boolean =>
  token.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(token)

/** Claims of a valid, unexpired, unrevoked access token we issued; otherwise undefined. */
export async function verifyOwnAccessToken(
  ctx: OAuthContext,
  token: string,
): Promise<JWTPayload | undefined> {
  if (!looksLikeJwt(token)) return undefined
  let payload: JWTPayload
  try {
    const verified = await jwtVerify(token, keyFor(ctx), {
      issuer: ctx.issuer,
      typ: 'at+jwt',
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id', 'aud'],
      currentDate: new Date(ctx.clock()),
      clockTolerance: 0,
    })
    payload = verified.payload
  } catch {
    return undefined
  }
  // Outside the catch: a store outage is neither "revoked" nor "invalid". It propagates (503 with
  // Retry-After); swallowed, /revoke answered 200 during a Redis outage and revoked nothing.
  if (await ctx.revoker.isRevoked(payload)) return undefined
  return payload
}

/** True if the string has the shape of a JWS (three base64url segments), so it is not a refresh token. */
export { looksLikeJwt }

/**
 * Claims of an ID token we issued, checking signature, issuer, that it is an ID token (`typ: JWT`,
 * never an `at+jwt` access token or a `logout+jwt`: RFC 8725 §3.11) and that its single audience is a
 * registered client — but not expiry (an `id_token_hint` is usually expired by the time the user logs
 * out; OIDC RP-Initiated Logout §2). `aud` is then that client's id.
 */
export async function verifyOwnIdTokenHint(
  ctx: OAuthContext,
  token: string,
): Promise<(JWTPayload & { sub: string; aud: string }) | undefined> {
  if (!looksLikeJwt(token)) return undefined
  try {
    const { payload, protectedHeader } = await compactVerify(token, keyFor(ctx))
    if (protectedHeader.typ?.toUpperCase() !== 'JWT') return undefined
    const claims = JSON.parse(new TextDecoder().decode(payload)) as JWTPayload
    if (claims.iss !== ctx.issuer || typeof claims.sub !== 'string') return undefined
    const aud = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud
    if (typeof aud !== 'string' || !ctx.clients.get(aud)) return undefined
    return { ...claims, sub: claims.sub, aud }
  } catch {
    return undefined
  }
}
