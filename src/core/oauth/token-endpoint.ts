/**
 * The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6) for an already authenticated client, in two
 * phases: {@link validateTokenRequest} makes every check — parameters, grant, client, code or refresh
 * token, PKCE, scope, resource — with reads only, and {@link executeTokenRequest} then spends the code
 * or rotates the refresh token and mints. A request refused in the first phase changes nothing, so
 * the corrected retry behaves as if the refused one never happened (a refused refresh used to have
 * rotated the token already, and the retry after the grace window counted as theft). The DPoP proof
 * check (RFC 9449 §4.3, §5) is in the first phase too (dpop.ts): a refused proof spends nothing, and
 * a good proof's `jti` is recorded as the last step of validation.
 *
 * Refusals with a consequence mandated by the RFCs are planned in the first phase and carried out in
 * the second: a replayed code revokes what it issued (RFC 6749 §4.1.2, RFC 9700 §4.5), a refresh
 * token of a removed user revokes its family. A replayed rotated refresh token (RFC 9700 §4.14.2) is
 * detected by the atomic rotation itself.
 *
 * - `authorization_code`: issued, unexpired, to this client, for this redirect URI, PKCE verifier
 *   matches (RFC 7636 §4.6); redemption is one compare-and-swap (codes.ts).
 * - `refresh_token`: rotation with a grace window (refresh-tokens.ts); scope may only narrow (§6).
 * - `client_credentials`: confidential clients only (§4.4); `sub` is the client id; no refresh token
 *   (§4.4.3) and no `openid`.
 *
 * @example const body = await exchangeToken(oauth, form, client) // RFC 6749 §5.1 response
 */
import type { IssuedCode } from './codes.ts'
import type { ClientConfig } from './config.ts'
import type { OAuthContext } from './context.ts'
import { randomToken } from './crypto.ts'
import { checkTokenRequestProof } from './dpop.ts'
import { ENDPOINTS, endpointUrl } from './endpoints.ts'
import { OAuthError } from './errors.ts'
import { param, repeatedParams, requiredParam } from './params.ts'
import { verifyPkce } from './pkce.ts'
import type { FamilyRecord, RefreshSnapshot } from './refresh-tokens.ts'
import { grantScope, hasScope, resolveAudience } from './scope.ts'

export interface TokenResponse {
  access_token: string
  /** `DPoP` when the access token is bound to a key (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP'
  expires_in: number
  scope: string
  refresh_token?: string
  id_token?: string
}

/** The DPoP side of a token request (RFC 9449 §5): the `DPoP` header and the URIs `htu` may name. */
export interface TokenRequestDpop {
  /** `Headers.get('DPoP')`: null when absent. */
  proof: string | null
  /** The URL the request arrived at; the issuer's token endpoint is always accepted too. */
  requestUrl?: string
}

/** The key the tokens of a validated request are bound to (RFC 9449 §6.1), when it had a proof. */
interface Bound {
  jkt?: string | undefined
}

/** What a validated request will do. Nothing has been written when one exists. */
export type TokenPlan =
  | (Bound & {
      grant: 'authorization_code'
      client: ClientConfig
      code: string
      /** The code's store key and raw record: the compare-and-swap's expected value. */
      key: string
      raw: string
      record: IssuedCode
      aud: string
    })
  | (Bound & {
      grant: 'refresh_token'
      client: ClientConfig
      presented: string
      family: FamilyRecord
      /** What validation read, so the rotation does not read it again. */
      seen: RefreshSnapshot
      scope: string
      aud: string
    })
  | (Bound & { grant: 'client_credentials'; client: ClientConfig; scope: string; aud: string })
  | { grant: 'refused'; error: OAuthError; consequence: () => Promise<void> }

const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials'])

const usedCode = (): OAuthError =>
  new OAuthError('invalid_grant', 'The authorization code is invalid, expired or already used.')
const badRefresh = (): OAuthError =>
  new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.')

/**
 * Validates and then executes a token request.
 *
 * @example const body = await exchangeToken(oauth, form, client)
 */
export async function exchangeToken(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
  dpop: TokenRequestDpop = { proof: null },
): Promise<TokenResponse> {
  return executeTokenRequest(ctx, await validateTokenRequest(ctx, params, client, dpop))
}

/**
 * Every check of a token request, with reads only; throws the RFC 6749 §5.2 error of the first
 * failure.
 *
 * @example const plan = await validateTokenRequest(oauth, form, client)
 */
export async function validateTokenRequest(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
  dpop: TokenRequestDpop = { proof: null },
): Promise<TokenPlan> {
  // RFC 6749 §3.2: request parameters MUST NOT be included more than once.
  if (repeatedParams(params).length > 0)
    throw new OAuthError('invalid_request', 'A request parameter is repeated.')
  const grantType = requiredParam(params, 'grant_type')
  if (!GRANTS.has(grantType))
    throw new OAuthError('unsupported_grant_type', 'The grant type is not supported.')
  if (!(client.grantTypes as string[]).includes(grantType))
    throw new OAuthError('unauthorized_client', 'This client may not use this grant type.')
  const plan =
    grantType === 'authorization_code'
      ? await validateCode(ctx, params, client)
      : grantType === 'refresh_token'
        ? await validateRefresh(ctx, params, client)
        : validateClientCredentials(ctx, params, client)
  // A replayed code is refused (and its grant revoked) whatever the proof says.
  if (plan.grant === 'refused') return plan
  return withProof(ctx, plan, dpop)
}

/**
 * RFC 9449 §5: the proof, checked last among the reads; its `jti` recorded as the very last step, so
 * a request refused for any reason spends neither its code, its refresh token nor its proof.
 */
async function withProof(
  ctx: OAuthContext,
  plan: Exclude<TokenPlan, { grant: 'refused' }>,
  dpop: TokenRequestDpop,
): Promise<TokenPlan> {
  // The URIs `htu` may name matter only to a proof: none are built without one.
  const uris = dpop.proof === null ? [] : proofUris(ctx, dpop)
  const boundTo = plan.grant === 'refresh_token' ? plan.family.jkt : undefined
  const proof = await checkTokenRequestProof(ctx.dpop, plan.client, dpop.proof, uris, boundTo)
  if (proof === undefined) return plan
  await proof.claim()
  return { ...plan, jkt: proof.jkt }
}

/** RFC 9449 §4.3 step 9: the issuer's token endpoint, and the URL the request arrived at. */
function proofUris(ctx: OAuthContext, dpop: TokenRequestDpop): string[] {
  const tokenEndpoint = endpointUrl(ctx.issuer, ENDPOINTS.token)
  return dpop.requestUrl === undefined ? [tokenEndpoint] : [tokenEndpoint, dpop.requestUrl]
}

async function validateCode(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<TokenPlan> {
  const code = requiredParam(params, 'code')
  const redirectUri = param(params, 'redirect_uri')
  const verifier = param(params, 'code_verifier')
  const resource = param(params, 'resource')
  const found = await ctx.codes.find(code)
  if (!found) throw usedCode()
  const { record } = found
  if (record.state === 'redeemed') {
    // RFC 6749 §4.1.2 / RFC 9700 §4.5: a second use revokes what the first one issued.
    return {
      grant: 'refused',
      error: usedCode(),
      consequence: () => revokeRedemption(ctx, record.familyId, record.jti, record.exp),
    }
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
  return { grant: 'authorization_code', client, code, key: found.key, raw: found.raw, record, aud }
}

async function validateRefresh(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): Promise<TokenPlan> {
  const presented = requiredParam(params, 'refresh_token', 512)
  const requestedScope = param(params, 'scope')
  const resource = param(params, 'resource')
  // Active or just rotated: whether a rotated one is inside the grace window or a replay is decided
  // by the rotation itself, atomically.
  const found = await ctx.refreshTokens.inspect(presented)
  // RFC 6749 §6: the refresh token is bound to the client it was issued to.
  if (!found || found.family.clientId !== client.id) throw badRefresh()
  const { family, familyId } = found
  // A user removed or disabled since the grant gets no new tokens, and the grant ends.
  if (family.sid !== undefined && !ctx.users.bySub(family.sub))
    return {
      grant: 'refused',
      error: badRefresh(),
      consequence: () => ctx.refreshTokens.revokeFamily(familyId),
    }
  // RFC 6749 §6: the new scope must not exceed the original grant (nor what the client may still have).
  const allowed = family.scope.split(' ').filter((s) => s !== '' && client.scopes.includes(s))
  const scope =
    requestedScope === undefined ? allowed.join(' ') : grantScope(requestedScope, client, allowed)
  const aud = resource === undefined ? family.aud : resolveAudience(resource, client, ctx.issuer)
  return { grant: 'refresh_token', client, presented, family, seen: found.snapshot, scope, aud }
}

function validateClientCredentials(
  ctx: OAuthContext,
  params: URLSearchParams,
  client: ClientConfig,
): TokenPlan {
  // RFC 6749 §4.4: confidential clients only (the config refuses otherwise; checked again here).
  if (client.type !== 'confidential')
    throw new OAuthError('unauthorized_client', 'Public clients cannot use client_credentials.')
  const scope = grantScope(
    param(params, 'scope'),
    client,
    client.scopes.filter((s) => s !== 'openid'),
  )
  const aud = resolveAudience(param(params, 'resource'), client, ctx.issuer)
  return { grant: 'client_credentials', client, scope, aud }
}

/**
 * Carries out a validated request: spends the code or rotates the refresh token, then mints. May
 * still refuse when the store says another request won a race (a concurrent redemption, a replay).
 *
 * @example const body = await executeTokenRequest(oauth, plan)
 */
export async function executeTokenRequest(
  ctx: OAuthContext,
  plan: TokenPlan,
): Promise<TokenResponse> {
  switch (plan.grant) {
    case 'refused':
      await plan.consequence()
      throw plan.error
    case 'authorization_code':
      return redeemCode(ctx, plan)
    case 'refresh_token':
      return rotateRefresh(ctx, plan)
    case 'client_credentials': {
      const { client, scope, aud, jkt } = plan
      const access = await ctx.signer.accessToken({
        sub: client.id,
        clientId: client.id,
        scope,
        aud,
        jkt,
      })
      return {
        access_token: access.token,
        token_type: tokenType(jkt),
        expires_in: access.expiresIn,
        scope,
      }
    }
  }
}

/** RFC 9449 §5: a bound access token is of type DPoP. */
const tokenType = (jkt: string | undefined): TokenResponse['token_type'] =>
  jkt === undefined ? 'Bearer' : 'DPoP'

async function revokeRedemption(
  ctx: OAuthContext,
  familyId: string | undefined,
  jti: string,
  exp: number,
): Promise<void> {
  if (familyId !== undefined) await ctx.refreshTokens.revokeFamily(familyId)
  await ctx.revoker.revokeAccessToken(jti, exp)
}

async function redeemCode(
  ctx: OAuthContext,
  plan: Extract<TokenPlan, { grant: 'authorization_code' }>,
): Promise<TokenResponse> {
  const { client, record, aud, jkt } = plan
  const withRefresh = client.grantTypes.includes('refresh_token')
  const familyId = withRefresh ? randomToken(16) : undefined
  const jti = randomToken(16)
  const exp = Math.floor(ctx.clock() / 1000) + ctx.config.tokens.accessTokenTtlSeconds + 1
  const marker = { state: 'redeemed' as const, familyId, jti, exp }
  if (!(await ctx.codes.markRedeemed(plan.key, plan.raw, marker))) {
    // Someone redeemed it between our read and our swap: that is a replay too.
    const again = await ctx.codes.find(plan.code)
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
  // RFC 9449 §5: a public client's refresh token is bound to the proof key; a confidential client's
  // is not (its refreshes are authenticated already).
  const familyJkt = client.type === 'public' ? jkt : undefined
  if (familyId !== undefined)
    refreshToken = (
      await ctx.refreshTokens.startFamily(
        familyJkt === undefined ? grant : { ...grant, jkt: familyJkt },
        familyId,
      )
    ).token
  // Linked before anything is returned, so ending the session from now on revokes the family and
  // tells this client over the back channel.
  if (!(await ctx.sessions.link(record.sid, { clientId: client.id, familyId }))) {
    if (familyId !== undefined) await ctx.refreshTokens.revokeFamily(familyId)
    throw usedCode()
  }
  const access = await ctx.signer.accessToken({ ...grant, jti, jkt })
  const response: TokenResponse = {
    access_token: access.token,
    token_type: tokenType(jkt),
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

async function rotateRefresh(
  ctx: OAuthContext,
  plan: Extract<TokenPlan, { grant: 'refresh_token' }>,
): Promise<TokenResponse> {
  const { client, scope, aud, jkt } = plan
  const { token, familyId, family } = await ctx.refreshTokens.rotate(
    plan.presented,
    client.id,
    plan.seen,
  )
  const access = await ctx.signer.accessToken({
    sub: family.sub,
    clientId: client.id,
    scope,
    aud,
    sid: family.sid,
    authTime: family.authTime,
    jkt,
  })
  await ctx.refreshTokens.recordAccessToken(familyId, access.jti, access.exp)
  return {
    access_token: access.token,
    token_type: tokenType(jkt),
    expires_in: access.expiresIn,
    scope,
    refresh_token: token,
  }
}
