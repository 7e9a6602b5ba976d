/**
 * Verifying tokens this origin's fleet signed, with the verification core (verify.ts) — the same
 * parser, key choice and signature check the edge uses — over every published key (next, active,
 * retiring): during a rolling rotation another origin may already sign with a key that is still
 * `next` here, and its tokens are ours (docs/keys.md). Access tokens for /userinfo and /introspect
 * must be `typ: at+jwt` (RFC 9068 §4), unexpired and not revoked; /revoke takes any access token of
 * ours whatever its times say (the revocation writer drops one that can no longer verify anywhere);
 * ID tokens given back as `id_token_hint` at /logout are checked for signature and issuer but not
 * expiry.
 *
 * The origins' clocks may differ by up to `SKEW_ALLOWANCE_SECONDS`: a token minted by an origin whose
 * clock runs ahead carries an `iat` in this origin's future, and is ours all the same (refused, it
 * made /revoke acknowledge and drop the revocation of a token minted a second earlier elsewhere).
 * `exp` is judged by this origin's clock, without that allowance.
 *
 * A kid this origin has not seen makes it re-read the key set before answering (key-lifecycle.ts);
 * when it cannot, the answer is 503 `temporarily_unavailable`, never "not ours": a valid token of
 * this issuer is never answered as unknown (that was how /revoke acknowledged and dropped a
 * revocation during a rollout).
 *
 * @example const claims = await verifyOwnAccessToken(oauth, token) // undefined when not valid
 */
import type { JWTPayload } from 'jose'
import { AuthError } from '../errors.ts'
import type { KeySet } from '../jwks.ts'
import { checkAccessTokenClaims } from '../claims.ts'
import type { AccessTokenClaims } from '../types.ts'
import { createJwsVerifier, type JwsVerifier } from '../verify.ts'
import type { OAuthContext } from './context.ts'
import { OAuthError } from './errors.ts'
import { SKEW_ALLOWANCE_SECONDS } from './key-lifecycle-config.ts'
import type { SigningKeySet } from './keys.ts'

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const MAX_TOKEN_LENGTH = 8192

const looksLikeJwt = (token: string): boolean =>
  token.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(token)

/** True if the string has the shape of a JWS (three base64url segments), so it is not a refresh token. */
export { looksLikeJwt }

/**
 * The origin's published keys as the verification core's `KeySet`: by kid only (we always set one),
 * with the key's own algorithm; an unreadable key set is `jwks_unavailable`.
 *
 * @example createAccessTokenVerifier({ issuer, audience, keys: ownKeySet(oauth.keys) })
 */
export function ownKeySet(keys: SigningKeySet): KeySet {
  return {
    async getKey(kid, alg) {
      if (kid === undefined) throw new AuthError('kid_unknown', 'token key id is not known')
      let key
      try {
        key = await keys.verificationKey(kid)
      } catch (e) {
        if (e instanceof OAuthError)
          throw new AuthError('jwks_unavailable', 'signing keys are temporarily unavailable')
        throw e
      }
      if (!key) throw new AuthError('kid_unknown', 'token key id is not known')
      if (key.alg !== alg)
        throw new AuthError('alg_not_allowed', 'token algorithm is not allowed for this key')
      return { kid, alg: key.alg, jwk: key.publicJwk as JsonWebKey, cryptoKey: key.publicKey }
    },
  }
}

interface OwnVerifiers {
  accessToken: JwsVerifier
  idToken: JwsVerifier
}

const built = new WeakMap<OAuthContext, OwnVerifiers>()

function verifiersFor(ctx: OAuthContext): OwnVerifiers {
  let verifiers = built.get(ctx)
  if (!verifiers) {
    const keys = ownKeySet(ctx.keys)
    verifiers = {
      accessToken: createJwsVerifier({
        keys,
        expectedType: 'at+jwt',
        maxTokenLength: MAX_TOKEN_LENGTH,
      }),
      idToken: createJwsVerifier({ keys, expectedType: 'JWT', maxTokenLength: MAX_TOKEN_LENGTH }),
    }
    built.set(ctx, verifiers)
  }
  return verifiers
}

/** Turns "cannot tell" into a 503; every other verification failure means "not a valid token". */
function unavailableOrUndefined(e: unknown): undefined {
  if (e instanceof AuthError && e.code === 'jwks_unavailable')
    throw new OAuthError('temporarily_unavailable', 'Signing keys are unavailable; retry shortly.')
  if (e instanceof AuthError) return undefined
  throw e
}

/**
 * The claims of an access token we issued (signature, `typ`, issuer and the claims every token we mint
 * carries), with no time check; undefined when it is not one.
 */
async function ownAccessTokenClaims(
  ctx: OAuthContext,
  token: string,
  at: number | undefined,
): Promise<{ claims: AccessTokenClaims; kid: string | undefined } | undefined> {
  if (!looksLikeJwt(token)) return undefined
  let verified
  try {
    verified = await verifiersFor(ctx).accessToken.verify(token)
  } catch (e) {
    return unavailableOrUndefined(e)
  }
  let claims
  try {
    claims = checkAccessTokenClaims(
      verified.payload,
      // Ours for any resource server: introspection reports `aud` (RFC 7662 §2.2).
      // An iat up to the fleet's clock skew ahead: minted by an origin whose clock runs ahead.
      {
        issuer: ctx.issuer,
        audience: () => true,
        leewaySeconds: 0,
        issuedAtSkewSeconds: SKEW_ALLOWANCE_SECONDS,
      },
      // Without a time: judged at the token's own iat (its times are then trivially consistent).
      at ?? (typeof verified.payload.iat === 'number' ? verified.payload.iat : 0),
    )
  } catch (e) {
    return unavailableOrUndefined(e)
  }
  // RFC 9068 §2.2: every token we mint carries these.
  if (
    typeof claims.jti !== 'string' ||
    typeof claims.client_id !== 'string' ||
    typeof claims.iat !== 'number'
  )
    return undefined
  return { claims, kid: verified.header.kid }
}

/** Claims of a valid, unexpired, unrevoked access token we issued; otherwise undefined. */
export async function verifyOwnAccessToken(
  ctx: OAuthContext,
  token: string,
): Promise<JWTPayload | undefined> {
  const own = await ownAccessTokenClaims(ctx, token, ctx.clock() / 1000)
  if (!own) return undefined
  // Outside the catch: a store outage is neither "revoked" nor "invalid". It propagates (503 with
  // Retry-After); swallowed, /revoke answered 200 during a Redis outage and revoked nothing.
  if (await ctx.revoker.isRevoked({ ...own.claims, kid: own.kid })) return undefined
  return own.claims as JWTPayload
}

/**
 * Claims of an access token we issued, for /revoke: whatever its times say (RFC 7009 §2.2: revoking
 * an expired token is a success with nothing to do; the writer keeps no record of one that cannot
 * verify anywhere), revoked already or not (revoking again is idempotent).
 *
 * @example const claims = await ownAccessTokenToRevoke(ctx, token) // then revokeAccessToken(jti, exp)
 */
export async function ownAccessTokenToRevoke(
  ctx: OAuthContext,
  token: string,
): Promise<AccessTokenClaims | undefined> {
  return (await ownAccessTokenClaims(ctx, token, undefined))?.claims
}

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
  let payload
  try {
    ;({ payload } = await verifiersFor(ctx).idToken.verify(token))
  } catch (e) {
    return unavailableOrUndefined(e)
  }
  // The typ is checked by the verifier (`JWT`, expectedType below).
  if (payload.iss !== ctx.issuer || typeof payload.sub !== 'string') return undefined
  const aud = Array.isArray(payload.aud) && payload.aud.length === 1 ? payload.aud[0] : payload.aud
  if (typeof aud !== 'string' || !ctx.clients.get(aud)) return undefined
  return { ...(payload as JWTPayload), sub: payload.sub, aud }
}
