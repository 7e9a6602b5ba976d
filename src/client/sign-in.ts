/**
 * Signing in: the authorization request (authorization code + PKCE S256, RFC 7636; RFC 9700 §2.1.1),
 * the callback (state, RFC 6749 §10.12; `iss`, RFC 9207; the ID token's nonce), and `start`, which
 * handles a callback or restores the session from another tab or with `prompt=none` (client.ts).
 */
import * as oauth from 'oauth4webapi'
import type { ClientContext } from './context.ts'
import { GatehouseClientError, asClientError, knownOAuthError } from './errors.ts'
import type { AuthState, LoginOptions } from './options.ts'
import { isLocalPath } from './pending.ts'
import type { Session } from './session.ts'
import { tokenSetFrom } from './tokens.ts'

const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri']

/**
 * Saves a fresh state, PKCE verifier and nonce, then navigates to the authorization endpoint.
 *
 * @example await login(ctx, session, { returnTo: '/orders' })
 */
export async function login(
  ctx: ClientContext,
  session: Session,
  loginOptions: LoginOptions = {},
): Promise<void> {
  const as = await ctx.server()
  if (!as.authorization_endpoint)
    throw new GatehouseClientError('network_error', 'The issuer has no authorization endpoint.')
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const stateValue = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const returnTo = isLocalPath(loginOptions.returnTo) ? loginOptions.returnTo : '/'
  ctx.pending.save({
    state: stateValue,
    codeVerifier,
    nonce,
    returnTo,
    silent: loginOptions.prompt === 'none',
    createdAt: ctx.env.now(),
  })
  const url = new URL(as.authorization_endpoint)
  const params: Record<string, string> = {
    client_id: ctx.options.clientId,
    redirect_uri: ctx.options.redirectUri,
    response_type: 'code',
    scope: ctx.scope,
    state: stateValue,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  }
  if (loginOptions.prompt) params.prompt = loginOptions.prompt
  if (ctx.options.resource) params.resource = ctx.options.resource
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  session.setState({ status: 'redirecting' })
  ctx.env.navigate(url.href)
}

const isCallback = (ctx: ClientContext, url: URL): boolean =>
  url.origin === ctx.redirect.origin &&
  url.pathname === ctx.redirect.pathname &&
  url.searchParams.has('state') &&
  (url.searchParams.has('code') || url.searchParams.has('error'))

/** The URL without the authorization response parameters. */
const withoutCallbackParams = (url: URL): string => {
  const clean = new URL(url)
  for (const p of CALLBACK_PARAMS) clean.searchParams.delete(p)
  return `${clean.pathname}${clean.search}${clean.hash}`
}

/** The callback's checks and the code exchange; one attempt per authorization request. */
async function handleCallback(ctx: ClientContext, session: Session, url: URL): Promise<void> {
  const request = ctx.pending.peek()
  ctx.pending.clear() // one attempt per request, whatever happens
  if (!request) return
  const as = await ctx.server()
  let params: URLSearchParams
  try {
    params = oauth.validateAuthResponse(as, ctx.oauthClient, url, request.state)
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError) {
      const code = knownOAuthError(e.error)
      // A silent attempt that finds no session is the normal way to learn we are signed out.
      if (request.silent && code !== 'server_error' && code !== 'temporarily_unavailable') {
        session.drop()
        return
      }
      throw new GatehouseClientError(
        'authorization_error',
        `The sign-in was not completed (${code}).`,
        code,
      )
    }
    const iss = url.searchParams.get('iss')
    if (iss !== null && iss !== as.issuer)
      throw new GatehouseClientError(
        'issuer_mismatch',
        'The sign-in response came from an unexpected issuer; it was ignored.',
      )
    throw new GatehouseClientError(
      'state_mismatch',
      'The sign-in response does not match the request this tab made; it was ignored.',
    )
  }
  try {
    // A refusal for want of a DPoP nonce spends no code (the issuer checks first), so retry it.
    const result = await ctx.dpop.withNonceRetry(async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        ctx.oauthClient,
        await oauth.authorizationCodeGrantRequest(
          as,
          ctx.oauthClient,
          oauth.None(),
          params,
          ctx.options.redirectUri,
          request.codeVerifier,
          { ...ctx.http, ...(await ctx.dpop.options()) },
        ),
        {
          expectedNonce: request.nonce,
          requireIdToken: ctx.scope.split(' ').includes('openid'),
        },
      ),
    )
    const set = tokenSetFrom(result, await profileOf(ctx, as, result), ctx.env.now())
    session.adopt(set)
    session.sync.announce(set)
  } catch (e) {
    throw asClientError(e)
  }
}

/**
 * The ID token's claims plus the profile from the UserInfo endpoint (OIDC Core §5.3): Gatehouse
 * puts only protocol claims in ID tokens. The UserInfo `sub` must match the ID token's (§5.3.2).
 */
async function profileOf(
  ctx: ClientContext,
  as: oauth.AuthorizationServer,
  result: oauth.TokenEndpointResponse,
): Promise<Record<string, unknown> | undefined> {
  const idClaims = oauth.getValidatedIdTokenClaims(result)
  if (!idClaims || !as.userinfo_endpoint) return idClaims
  try {
    const bound = result.token_type === 'dpop' ? await ctx.dpop.options() : {}
    const response = await ctx.dpop.withNonceRetry(() =>
      oauth.userInfoRequest(as, ctx.oauthClient, result.access_token, { ...ctx.http, ...bound }),
    )
    const info = await oauth.processUserInfoResponse(as, ctx.oauthClient, idClaims.sub, response)
    return { ...info, ...idClaims }
  } catch {
    return idClaims // the profile is a nicety; the sign-in stands without it
  }
}

/**
 * Handles a callback URL, or restores the session: from another open tab, else (after a reload of a
 * signed-in tab) with a `prompt=none` redirect; otherwise the tab is signed out.
 *
 * @example const state = await start(ctx, session, location.href)
 */
export async function start(
  ctx: ClientContext,
  session: Session,
  currentUrl: string,
): Promise<AuthState> {
  const url = new URL(currentUrl)
  if (isCallback(ctx, url)) {
    const returnTo = ctx.pending.peek()?.returnTo ?? withoutCallbackParams(url)
    try {
      await handleCallback(ctx, session, url)
    } catch (e) {
      session.drop(asClientError(e))
    }
    // The code and state must not stay in the address bar or the history (RFC 9700 §4.3).
    ctx.env.replaceUrl(returnTo)
    if (session.state.status !== 'loading') return session.state
  }
  if (session.tokens) return session.state
  if (await session.sync.peersHoldTokens()) {
    const set = await session.sync.askPeers(ctx.peerTimeoutMs)
    if (set && !session.tokens) session.adopt(set)
    if (session.tokens) return session.state
  }
  if (ctx.signedIn.isSet()) {
    // Signed in before this reload: ask the issuer again without UI (see client.ts).
    ctx.signedIn.clear()
    await login(ctx, session, { prompt: 'none', returnTo: withoutCallbackParams(url) })
    return session.state
  }
  session.setState({ status: 'signed-out' })
  return session.state
}
