/**
 * Token revocation (RFC 7009) and introspection (RFC 7662) for authenticated clients.
 *
 * Revocation: a refresh token revokes its whole family and the access tokens issued in it (RFC 7009
 * §2.1); an access token is revoked by `jti` until its `exp`. Unknown, malformed or expired tokens are
 * a 200 with nothing done (RFC 7009 §2.2). A token issued to another client is answered exactly like
 * an unknown one — 200, nothing revoked — rather than with the `unauthorized_client` error RFC 7009
 * §2.1 allows: the error would tell a client that a token it holds is live and belongs to someone
 * else. The caller learns nothing either way; the result lets the route log the attempt.
 * Introspection: confidential clients only; refresh tokens only to the client that holds them; an
 * inactive token yields `{ "active": false }` and nothing else (RFC 7662 §2.2).
 *
 * @example
 * await revokeToken(oauth, form, client)
 * const body = await introspectToken(oauth, form, client)
 */
import type { ClientConfig } from './config.ts'
import type { OAuthContext } from './context.ts'
import { OAuthError } from './errors.ts'
import { looksLikeJwt, ownAccessTokenToRevoke, verifyOwnAccessToken } from './own-tokens.ts'
import { param, requiredParam } from './params.ts'

const MAX_TOKEN = 8192

/** What /revoke did, for the route's log line; the HTTP answer is the same 200 in every case. */
export type RevocationResult = 'revoked' | 'unknown' | 'foreign'

export async function revokeToken(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<RevocationResult> {
  const token = requiredParam(params, 'token', MAX_TOKEN)
  // The hint only orders the search (RFC 7009 §2.1); unknown hints are ignored.
  param(params, 'token_type_hint')
  if (!looksLikeJwt(token)) {
    const found = await ctx.refreshTokens.inspect(token)
    if (!found) return 'unknown'
    if (found.family.clientId !== client.id) return 'foreign'
    await ctx.refreshTokens.revokeFamily(found.familyId)
    return 'revoked'
  }
  // Any access token of ours, whatever its times say by this origin's clock (own-tokens.ts).
  const claims = await ownAccessTokenToRevoke(ctx, token)
  if (!claims || typeof claims.jti !== 'string') return 'unknown'
  if (claims.client_id !== client.id) return 'foreign'
  await ctx.revoker.revokeAccessToken(claims.jti, claims.exp)
  return 'revoked'
}

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>)

export async function introspectToken(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<IntrospectionResponse> {
  if (client.type !== 'confidential')
    throw new OAuthError('invalid_client', 'Introspection is for confidential clients.')
  const token = requiredParam(params, 'token', MAX_TOKEN)
  param(params, 'token_type_hint')
  if (!looksLikeJwt(token)) {
    const found = await ctx.refreshTokens.inspect(token)
    if (!found || !found.active || found.family.clientId !== client.id) return { active: false }
    const { family } = found
    return {
      active: true,
      client_id: family.clientId,
      sub: family.sub,
      scope: family.scope,
      aud: family.aud,
      iss: ctx.issuer,
      iat: Math.floor(family.createdAt / 1000),
      exp: Math.floor(family.expiresAt / 1000),
      ...(family.sid ? { sid: family.sid } : {}),
    }
  }
  const claims = await verifyOwnAccessToken(ctx, token)
  if (!claims) return { active: false }
  return {
    active: true,
    // RFC 9449 §6.2: a bound token is of type DPoP and its `cnf` says to which key.
    token_type: claims['cnf'] === undefined ? 'Bearer' : 'DPoP',
    ...(claims['cnf'] === undefined ? {} : { cnf: claims['cnf'] }),
    scope: claims['scope'],
    client_id: claims['client_id'],
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    ...(claims['sid'] ? { sid: claims['sid'] } : {}),
  }
}
