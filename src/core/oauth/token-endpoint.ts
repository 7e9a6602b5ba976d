/**
 * The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6) for an already authenticated client.
 *
 * - `authorization_code`: the code must be issued, unexpired, to this client, for this redirect URI,
 *   and the PKCE verifier must match (RFC 7636 §4.6). Redemption is atomic (see codes.ts); a replayed
 *   code fails with `invalid_grant` and revokes the refresh family and access token it issued
 *   (RFC 6749 §4.1.2, RFC 9700 §4.5).
 * - `refresh_token`: rotation with a grace window (refresh-tokens.ts); scope may only narrow (RFC 6749 §6).
 * - `client_credentials`: confidential clients only (RFC 6749 §4.4); `sub` is the client id; no refresh
 *   token (RFC 6749 §4.4.3) and no `openid`.
 *
 * @example const body = await exchangeToken(oauth, form, client) // RFC 6749 §5.1 response
 */
import type { ClientConfig } from './config.ts'
import type { OAuthContext } from './context.ts'
import { randomToken } from './crypto.ts'
import { OAuthError } from './errors.ts'
import { param, requiredParam } from './params.ts'
import { verifyPkce } from './pkce.ts'
import { grantScope, hasScope, resolveAudience } from './scope.ts'

export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  scope: string
  refresh_token?: string
  id_token?: string
}

const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials'])

export async function exchangeToken(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<TokenResponse> {
  const grantType = requiredParam(params, 'grant_type')
  if (!GRANTS.has(grantType))
    throw new OAuthError('unsupported_grant_type', 'The grant type is not supported.')
  if (!(client.grantTypes as string[]).includes(grantType))
    throw new OAuthError('unauthorized_client', 'This client may not use this grant type.')
  if (grantType === 'authorization_code') return authorizationCodeGrant(ctx, params, client)
  if (grantType === 'refresh_token') return refreshTokenGrant(ctx, params, client)
  return clientCredentialsGrant(ctx, params, client)
}

const usedCode = (): OAuthError =>
  new OAuthError('invalid_grant', 'The authorization code is invalid, expired or already used.')

async function revokeRedemption(
  ctx: OAuthContext,
  familyId: string | undefined,
  jti: string,
  exp: number,
) {
  if (familyId !== undefined) await ctx.refreshTokens.revokeFamily(familyId)
  await ctx.revoker.revokeAccessToken(jti, exp)
}

async function authorizationCodeGrant(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<TokenResponse> {
  const code = requiredParam(params, 'code')
  const redirectUri = param(params, 'redirect_uri')
  const verifier = param(params, 'code_verifier')
  const resource = param(params, 'resource')
  const found = await ctx.codes.find(code)
  if (!found) throw usedCode()
  const { record } = found
  if (record.state === 'redeemed') {
    // RFC 6749 §4.1.2 / RFC 9700 §4.5: a second use revokes what the first one issued.
    await revokeRedemption(ctx, record.familyId, record.jti, record.exp)
    throw usedCode()
  }
  if (record.expiresAt <= ctx.clock()) throw usedCode()
  // RFC 6749 §4.1.3: issued to this client, for this redirect URI.
  if (record.clientId !== client.id) throw usedCode()
  if (redirectUri === undefined ? record.redirectUriExplicit : redirectUri !== record.redirectUri)
    throw new OAuthError(
      'invalid_grant',
      'The redirect_uri does not match the authorization request.',
    )
  // RFC 7636 §4.5, §4.6.
  if (verifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required.')
  if (!(await verifyPkce(verifier, record.codeChallenge)))
    throw new OAuthError('invalid_grant', 'The code_verifier does not match the code_challenge.')
  const aud = resolveAudience(resource ?? record.resource, client, ctx.issuer)
  // The user signed out between authorization and redemption: nothing may be issued for that session.
  if (!(await ctx.sessions.isActive(record.sid))) throw usedCode()

  const withRefresh = client.grantTypes.includes('refresh_token')
  const familyId = withRefresh ? randomToken(16) : undefined
  const jti = randomToken(16)
  const exp = Math.floor(ctx.clock() / 1000) + ctx.config.tokens.accessTokenTtlSeconds + 1
  if (
    !(await ctx.codes.markRedeemed(found.key, found.raw, { state: 'redeemed', familyId, jti, exp }))
  ) {
    // Someone redeemed it between our read and our swap: that is a replay too.
    const again = await ctx.codes.find(code)
    if (again?.record.state === 'redeemed')
      await revokeRedemption(ctx, again.record.familyId, again.record.jti, again.record.exp)
    throw usedCode()
  }

  const grant = {
    clientId: client.id,
    sub: record.sub,
    scope: record.scope,
    aud,
    sid: record.sid,
    authTime: record.authTime,
  }
  let refreshToken: string | undefined
  if (familyId !== undefined) {
    refreshToken = (await ctx.refreshTokens.startFamily(grant, familyId)).token
    // Linked before anything is returned, so a logout from now on revokes the family.
    if (!(await ctx.sessions.addFamily(record.sid, familyId))) {
      await ctx.refreshTokens.revokeFamily(familyId)
      throw usedCode()
    }
  }
  const access = await ctx.signer.accessToken({ ...grant, jti })
  const response: TokenResponse = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope: record.scope,
  }
  if (familyId !== undefined && refreshToken !== undefined) {
    await ctx.refreshTokens.recordAccessToken(familyId, jti, access.exp)
    response.refresh_token = refreshToken
  }
  if (hasScope(record.scope, 'openid')) {
    response.id_token = await ctx.signer.idToken({
      sub: record.sub,
      clientId: client.id,
      authTime: record.authTime,
      nonce: record.nonce,
      sid: record.sid,
      accessToken: access.token,
    })
  }
  return response
}

async function refreshTokenGrant(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<TokenResponse> {
  const presented = requiredParam(params, 'refresh_token', 512)
  const requestedScope = param(params, 'scope')
  const resource = param(params, 'resource')
  const { token, familyId, family } = await ctx.refreshTokens.rotate(presented, client.id)
  // RFC 6749 §6: the new scope must not exceed the original grant (nor what the client may still have).
  const allowed = family.scope.split(' ').filter((s) => s !== '' && client.scopes.includes(s))
  const scope =
    requestedScope === undefined ? allowed.join(' ') : grantScope(requestedScope, client, allowed)
  const aud = resource === undefined ? family.aud : resolveAudience(resource, client, ctx.issuer)
  // A user removed or disabled since the grant gets no new tokens.
  if (family.sid !== undefined && !ctx.users.bySub(family.sub)) {
    await ctx.refreshTokens.revokeFamily(familyId)
    throw new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.')
  }
  const access = await ctx.signer.accessToken({
    sub: family.sub,
    clientId: client.id,
    scope,
    aud,
    sid: family.sid,
    authTime: family.authTime,
  })
  await ctx.refreshTokens.recordAccessToken(familyId, access.jti, access.exp)
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope,
    refresh_token: token,
  }
}

async function clientCredentialsGrant(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<TokenResponse> {
  // RFC 6749 §4.4: confidential clients only (the config refuses otherwise; checked again here).
  if (client.type !== 'confidential')
    throw new OAuthError('unauthorized_client', 'Public clients cannot use client_credentials.')
  const scope = grantScope(
    param(params, 'scope'),
    client,
    client.scopes.filter((s) => s !== 'openid'),
  )
  const aud = resolveAudience(param(params, 'resource'), client, ctx.issuer)
  const access = await ctx.signer.accessToken({ sub: client.id, clientId: client.id, scope, aud })
  return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope }
}
