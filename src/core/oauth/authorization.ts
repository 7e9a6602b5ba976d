/**
 * Finishing an authorization request once the user is known: decide whether the existing session
 * satisfies it (`prompt`, `max_age`, OIDC Core §3.1.2.1), then issue the code and build the redirect.
 * First-party clients only: there is no consent screen, the configured client's scopes are the consent.
 *
 * @example
 * if (needsLogin(request, session, now)) renderLogin(...)
 * else return redirect(await issueCodeRedirect(oauth, request, session))
 */
import type { AuthorizationRequest } from './authorize.ts'
import { authorizationResponseUrl } from './authorize.ts'
import type { OAuthContext } from './context.ts'
import type { SessionRecord } from './sessions.ts'

export function needsLogin(
  request: AuthorizationRequest,
  session: SessionRecord | undefined,
  nowMs: number,
): boolean {
  if (!session) return true
  if (request.prompt.includes('login')) return true
  return (
    request.maxAge !== undefined && Math.floor(nowMs / 1000) - session.authTime > request.maxAge
  )
}

/** Issues the code for `session` and returns the client redirect URL (code, state, iss). */
export async function issueCodeRedirect(
  ctx: OAuthContext,
  request: AuthorizationRequest,
  session: SessionRecord,
): Promise<string> {
  const code = await ctx.codes.issue({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    redirectUriExplicit: request.redirectUriExplicit,
    codeChallenge: request.codeChallenge,
    scope: request.scope,
    resource: request.resource,
    nonce: request.nonce,
    sub: session.sub,
    sid: session.sid,
    authTime: session.authTime,
  })
  return authorizationResponseUrl(request.redirectUri, ctx.issuer, { code, state: request.state })
}

/** The redirect for an error after the request was validated (e.g. `login_required`). */
export const errorRedirect = (
  ctx: OAuthContext,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
  error: string,
  description: string,
): string =>
  authorizationResponseUrl(request.redirectUri, ctx.issuer, {
    error,
    error_description: description,
    state: request.state,
  })
