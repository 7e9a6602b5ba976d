/**
 * Using and refreshing tokens: the refresh grant with rotation, coordinated across tabs so two tabs
 * never spend the same refresh token (tab-sync.ts), a token that is valid when asked for, and `fetch`
 * with the bearer token that refreshes once on a 401 `invalid_token` (RFC 6750 §3.1).
 */
import * as oauth from 'oauth4webapi'
import type { ClientContext } from './context.ts'
import { GatehouseClientError, asClientError } from './errors.ts'
import type { Session } from './session.ts'
import { fingerprint, tokenSetFrom } from './tokens.ts'

/**
 * Refreshes under the tab group's lock; false when there is nothing to refresh with or the session
 * has ended (then every tab is signed out).
 *
 * @example if (!(await refreshTokens(ctx, session))) await login(ctx, session)
 */
export async function refreshTokens(ctx: ClientContext, session: Session): Promise<boolean> {
  const used = session.tokens
  if (!used?.refreshToken) return false
  const refreshToken = used.refreshToken
  const { sync } = session
  return sync.withRefreshLock(async () => {
    // While we waited, another tab may have refreshed and told us.
    if (session.tokens !== used) return session.tokens !== undefined
    const mark = await fingerprint(refreshToken)
    if (await sync.wasRotated(mark)) {
      // Another tab spent this token; its new set is on the way or one `hello` away.
      const set = await sync.askPeers(ctx.peerTimeoutMs, (s) => s.obtainedAt > used.obtainedAt)
      if (set && session.tokens === used) session.adopt(set)
      if (session.tokens !== used) return session.tokens !== undefined
      // That tab closed before answering; spending the token again is the last resort (the
      // issuer's grace window returns the same successor for a short while).
    }
    const as = await ctx.server()
    let result: oauth.TokenEndpointResponse
    try {
      result = await ctx.dpop.withNonceRetry(async () =>
        oauth.processRefreshTokenResponse(
          as,
          ctx.oauthClient,
          await oauth.refreshTokenGrantRequest(as, ctx.oauthClient, oauth.None(), refreshToken, {
            ...ctx.http,
            ...(await ctx.dpop.options()),
          }),
        ),
      )
    } catch (e) {
      if (e instanceof oauth.ResponseBodyError && e.error === 'invalid_grant') {
        // The family is gone (signed out elsewhere, revoked, expired): every tab is signed out.
        session.signOut(
          ctx.env.now(),
          new GatehouseClientError('token_error', 'The session has ended.', 'invalid_grant'),
        )
        return false
      }
      throw asClientError(e)
    }
    const next = tokenSetFrom(result, oauth.getValidatedIdTokenClaims(result), ctx.env.now(), used)
    // Held before the refresh lock is released, so the next holder sees it (tab-sync.ts).
    await sync.markRotated(mark)
    session.adopt(next)
    sync.announce(next)
    return true
  })
}

/**
 * A valid access token, refreshed first when it is about to expire; undefined when signed out.
 *
 * @example const token = await getAccessToken(ctx, session)
 */
export async function getAccessToken(
  ctx: ClientContext,
  session: Session,
): Promise<string | undefined> {
  const { env, skewMs } = ctx
  const before = session.tokens
  if (before && env.now() >= before.expiresAt - skewMs && before.refreshToken) {
    try {
      await refreshTokens(ctx, session)
    } catch {
      // Keep using the current token while it is still valid.
    }
  }
  const tokens = session.tokens
  return tokens && env.now() < tokens.expiresAt ? tokens.accessToken : undefined
}

/**
 * `fetch` with the access token (and a DPoP proof for a DPoP-bound one); on a 401 `invalid_token`
 * it refreshes once and retries.
 *
 * @example const res = await authorizedFetch(ctx, session, 'https://api.example.com/orders')
 */
export async function authorizedFetch(
  ctx: ClientContext,
  session: Session,
  input: string | URL,
  init: RequestInit = {},
): Promise<Response> {
  const send = async (): Promise<Response> => {
    const token = await getAccessToken(ctx, session)
    if (!token) throw new GatehouseClientError('login_required', 'Sign in first.')
    // A DPoP-bound token goes with a proof for exactly this request (RFC 9449 §7.1).
    return ctx.dpop.resourceFetch(token, session.tokens?.tokenType ?? 'bearer', input, init)
  }
  const response = await send()
  // RFC 6750 §3.1: invalid_token means this token is no good (expired, revoked); a fresh one may be.
  const challenge = response.headers.get('www-authenticate') ?? ''
  if (
    response.status === 401 &&
    /error="invalid_token"/.test(challenge) &&
    session.tokens?.refreshToken
  ) {
    const before = session.tokens
    if ((await refreshTokens(ctx, session).catch(() => false)) && session.tokens !== before)
      return send()
  }
  return response
}
