/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–§3). Validates `id_token_hint` (our
 * signature and issuer; expiry ignored), `client_id` (must be an audience of the hint when both are
 * given) and `post_logout_redirect_uri` (exact match against the client's registered list — otherwise
 * an open redirector). Like /authorize, a request that fails validation is never redirected. The
 * session in the cookie is ended (record deleted, its refresh families revoked, its `sid` revoked for
 * the edge); so is the hint's session when there is no cookie session.
 *
 * @example
 * const result = await logout(oauth, params, cookieSession)
 * result.kind === 'redirect' ? redirect(result.location) : renderSignedOut()
 */
import type { OAuthContext } from './context.ts'
import { verifyOwnIdTokenHint } from './own-tokens.ts'
import { param, repeatedParams } from './params.ts'
import type { SessionRecord } from './sessions.ts'

export type LogoutOutcome =
  | { kind: 'redirect'; location: string; ended: boolean }
  | { kind: 'done'; ended: boolean }
  | { kind: 'fatal'; description: string }

export async function logout(
  ctx: OAuthContext,
  params: URLSearchParams,
  session: SessionRecord | undefined,
): Promise<LogoutOutcome> {
  if (repeatedParams(params).length > 0)
    return { kind: 'fatal', description: 'A request parameter is repeated.' }
  let hint: string | undefined, clientId: string | undefined, redirectUri: string | undefined
  let state: string | undefined
  try {
    hint = param(params, 'id_token_hint', 8192)
    clientId = param(params, 'client_id')
    redirectUri = param(params, 'post_logout_redirect_uri')
    state = param(params, 'state', 2048)
  } catch {
    return { kind: 'fatal', description: 'A request parameter is too long.' }
  }
  const claims = hint === undefined ? undefined : await verifyOwnIdTokenHint(ctx, hint)
  if (hint !== undefined && !claims)
    return { kind: 'fatal', description: 'The id_token_hint is not valid.' }
  const audiences = claims ? (Array.isArray(claims.aud) ? claims.aud : [claims.aud]) : []
  if (clientId !== undefined && claims && !audiences.includes(clientId))
    return { kind: 'fatal', description: 'The client_id does not match the id_token_hint.' }
  const client = ctx.clients.get(clientId ?? (typeof audiences[0] === 'string' ? audiences[0] : ''))
  if (
    redirectUri !== undefined &&
    (!client || !client.postLogoutRedirectUris.includes(redirectUri))
  )
    return {
      kind: 'fatal',
      description: 'The post_logout_redirect_uri is not registered for this client.',
    }

  let ended = false
  if (session) ended = await ctx.sessions.end(session.sid)
  else if (typeof claims?.['sid'] === 'string') ended = await ctx.sessions.end(claims['sid'])
  if (redirectUri === undefined) return { kind: 'done', ended }
  const url = new URL(redirectUri)
  if (state !== undefined) url.searchParams.append('state', state)
  return { kind: 'redirect', location: url.href, ended }
}
