/**
 * The front-channel: /authorize (RFC 6749 §4.1.1, GET and POST as OIDC Core §3.1.2.1 requires) and
 * the hosted login form's POST /login (login-route.ts). A request is validated first (authorize.ts);
 * if the browser has a session that satisfies it, the code is issued at once (first-party clients, no
 * consent screen); otherwise the login page is shown (login-page.ts). Errors are thrown and rendered
 * as the error page by the app's `onError` (`errorFormat('html')`), never redirected to an unverified
 * URI.
 *
 * @example app.route('/', authorizeRoutes(deps, ''))
 */
import { Hono, type Context } from 'hono'
import { errorRedirect, issueCodeRedirect, needsLogin } from '../../core/oauth/authorization.ts'
import {
  authorizationResponseUrl,
  validateAuthorizationRequest,
} from '../../core/oauth/authorize.ts'
import { ENDPOINTS } from '../../core/oauth/endpoints.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import type { SessionRecord } from '../../core/oauth/sessions.ts'
import { errorFormat } from '../error-response.ts'
import type { GatehouseEnv } from '../types.ts'
import { loginCookies, type LoginCookies } from './cookies.ts'
import { refuseCrossSite } from './cross-site.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { loginPages, type LoginPages } from './login-page.ts'
import { loginRoute } from './login-route.ts'
import { redirectResponse } from './responses.ts'

const MAX_QUERY = 16 * 1024

export function authorizeRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const cookies = loginCookies(deps.oauth.issuer)
  const pages = loginPages(deps, cookies)
  const authorize = authorizeHandler(deps, cookies, pages)
  const app = new Hono<GatehouseEnv>()
  app.use(`${base}${ENDPOINTS.authorize}`, errorFormat('html'))
  app.use(`${base}${ENDPOINTS.login}`, errorFormat('html'))
  app.get(`${base}${ENDPOINTS.authorize}`, (c) => {
    if (c.req.url.length > MAX_QUERY)
      throw new OAuthError('invalid_request', 'The request is too long.')
    return authorize(c, new URL(c.req.url).searchParams)
  })
  app.post(`${base}${ENDPOINTS.authorize}`, async (c) => authorize(c, await readForm(c.req.raw)))
  app.post(`${base}${ENDPOINTS.login}`, refuseCrossSite(deps.oauth.issuer))
  app.post(`${base}${ENDPOINTS.login}`, loginRoute(deps, cookies, pages))
  return app
}

/** Validates the request, then issues a code for a live session or shows the login page. */
function authorizeHandler(deps: OAuthRouteDeps, cookies: LoginCookies, pages: LoginPages) {
  const { oauth } = deps

  const currentSession = async (c: Context): Promise<SessionRecord | undefined> => {
    const session = await oauth.sessions.lookup(cookies.read(c, 'session'))
    return session && oauth.users.bySub(session.sub) ? session : undefined
  }

  return async (c: Context<GatehouseEnv>, params: URLSearchParams): Promise<Response> => {
    const outcome = validateAuthorizationRequest(params, oauth.clients, oauth.issuer)
    // RFC 6749 §4.1.2.1 / RFC 9700 §4.11: never redirect to an unverified URI.
    if (outcome.kind === 'fatal') throw new OAuthError('invalid_request', outcome.description)
    if (outcome.kind === 'redirect') {
      const location = authorizationResponseUrl(outcome.redirectUri, oauth.issuer, {
        error: outcome.error.error,
        error_description: outcome.error.description,
        state: outcome.state,
      })
      return redirectResponse(location, 302)
    }
    const authRequest = outcome.request
    const session = await currentSession(c)
    if (session && !needsLogin(authRequest, session, oauth.clock()))
      return redirectResponse(await issueCodeRedirect(oauth, authRequest, session), 302)
    // OIDC Core §3.1.2.6: prompt=none must not show UI.
    if (authRequest.prompt.includes('none'))
      return redirectResponse(
        errorRedirect(oauth, authRequest, 'login_required', 'The user is not signed in.'),
        302,
      )
    return pages.show(c, authRequest, 200)
  }
}
