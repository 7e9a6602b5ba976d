/**
 * The UserInfo endpoint (OIDC Core §5.3): an access token we issued, carrying `openid`, yields `sub`
 * plus the user's claims the granted scopes cover (OIDC Core §5.4). Errors per RFC 6750 §3.1. A
 * DPoP-bound token must come with the DPoP scheme and its proof (RFC 9449 §7.1); as a bearer token it
 * is refused (§7.2), so a copied token does not read the user's profile either.
 *
 * @example const body = await userInfo(oauth, bearerToken) // { sub, name, email, ... }
 */
import { checkBoundProof, refuseBoundBearer, type DpopTarget } from '../dpop-binding.ts'
import type { AccessTokenClaims } from '../types.ts'
import type { OAuthContext } from './context.ts'
import { OAuthError } from './errors.ts'
import { verifyOwnAccessToken } from './own-tokens.ts'
import { hasScope } from './scope.ts'

/** OIDC Core §5.4: the claims each standard scope releases. */
export const SCOPE_CLAIMS: Record<string, readonly string[]> = {
  profile: [
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
}

/** A DPoP-scheme request: its headers (the proof) and what the proof must name. */
export interface UserInfoDpop {
  headers: Headers
  target: DpopTarget
}

export async function userInfo(
  ctx: OAuthContext,
  token: string | undefined,
  dpop?: UserInfoDpop,
): Promise<Record<string, unknown>> {
  if (token === undefined)
    throw new OAuthError('invalid_token', 'A bearer access token is required.')
  const claims = await verifyOwnAccessToken(ctx, token)
  if (!claims || typeof claims.sub !== 'string')
    throw new OAuthError('invalid_token', 'The access token is invalid, expired or revoked.')
  const typed = claims as AccessTokenClaims
  if (dpop === undefined) refuseBoundBearer(typed)
  else {
    const proof = await checkBoundProof(ctx.dpop.checker, dpop.headers, dpop.target, token, typed)
    await ctx.dpop.replay.claim(proof.jkt, proof.jti)
  }
  const scope = typeof claims['scope'] === 'string' ? claims['scope'] : ''
  if (!hasScope(scope, 'openid'))
    throw new OAuthError('insufficient_scope', 'The access token lacks the openid scope.')
  const user = ctx.users.bySub(claims.sub)
  if (!user)
    throw new OAuthError('invalid_token', 'The access token is invalid, expired or revoked.')
  const out: Record<string, unknown> = { sub: user.sub }
  for (const [s, names] of Object.entries(SCOPE_CLAIMS)) {
    if (!hasScope(scope, s)) continue
    for (const name of names) if (name in user.claims) out[name] = user.claims[name]
  }
  return out
}
