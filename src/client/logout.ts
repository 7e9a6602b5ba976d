/**
 * Signing out: every tab forgets its tokens at once, the refresh token is revoked (RFC 7009), and the
 * issuer's session ends through RP-initiated logout (a navigation to its end_session_endpoint).
 */
import * as oauth from 'oauth4webapi'
import type { ClientContext } from './context.ts'
import type { Session } from './session.ts'

/**
 * @example await logout(ctx, session) // navigates to the issuer's logout page
 */
export async function logout(ctx: ClientContext, session: Session): Promise<void> {
  const set = session.tokens
  session.signOut(ctx.env.now())
  const as = await ctx.server()
  if (set?.refreshToken && as.revocation_endpoint) {
    try {
      // RFC 7009 §2.1: revoking the refresh token revokes its family and the access tokens in it.
      const response = await oauth.revocationRequest(
        as,
        ctx.oauthClient,
        oauth.None(),
        set.refreshToken,
        { ...ctx.http, additionalParameters: { token_type_hint: 'refresh_token' } },
      )
      await oauth.processRevocationResponse(response)
    } catch {
      // Best effort: /logout below ends the session, which revokes its families too.
    }
  }
  // The next sign-in binds its tokens to a new key.
  await ctx.dpop.reset().catch(() => {})
  if (!as.end_session_endpoint) return
  const url = new URL(as.end_session_endpoint)
  url.searchParams.set('client_id', ctx.options.clientId)
  if (set?.idToken) url.searchParams.set('id_token_hint', set.idToken)
  if (ctx.options.postLogoutRedirectUri)
    url.searchParams.set('post_logout_redirect_uri', ctx.options.postLogoutRedirectUri)
  session.setState({ status: 'redirecting' })
  ctx.env.navigate(url.href)
}
