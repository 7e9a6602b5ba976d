/**
 * RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2, GET and POST; the rules are in
 * core/oauth/logout.ts). A request with an ID token of the browser's own session ends it at once;
 * any other asks the user first, on a page whose one button POSTs back here with a single-use token
 * bound to this browser (cookie `gatehouse_logout`); that POST is refused when the browser says it
 * comes from another site. Ending clears the session cookie, then redirects to a registered
 * `post_logout_redirect_uri` (with `state`) or shows the signed-out page. An invalid request is shown
 * on the error page (the app's `onError`, html format), never redirected.
 */
import { Hono, type Context } from 'hono'
import { randomToken } from '../../core/oauth/crypto.ts'
import { ENDPOINTS, endpointUrl } from '../../core/oauth/endpoints.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { confirmLogout, requestLogout, type PendingLogout } from '../../core/oauth/logout.ts'
import { errorFormat } from '../error-response.ts'
import type { GatehouseEnv } from '../types.ts'
import { loginCookies } from './cookies.ts'
import { crossSiteError, isCrossSite } from './cross-site.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { formActionSource, htmlResponse, logoutConfirmationPage, signedOutPage } from './html.ts'
import { redirectResponse } from './responses.ts'

const BINDING_SHAPE = /^[A-Za-z0-9_-]{43}$/

export function logoutRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const { oauth } = deps
  const cookies = loginCookies(oauth.issuer)
  const action = endpointUrl(oauth.issuer, ENDPOINTS.logout)
  const issuerOrigin = new URL(oauth.issuer).origin
  const app = new Hono<GatehouseEnv>()

  /** The signed-out answer: the session cookie cleared, then the client's page or ours. */
  const finished = (location: string | undefined, headers = new Headers()): Response => {
    headers.append('Set-Cookie', cookies.clear('session'))
    if (location === undefined) return htmlResponse(signedOutPage(), 200, { headers })
    return redirectResponse(location, 303, headers)
  }

  const askFirst = async (c: Context, pending: PendingLogout): Promise<Response> => {
    let binding = cookies.read(c, 'logout')
    if (binding === undefined || !BINDING_SHAPE.test(binding)) binding = randomToken(32)
    const headers = new Headers()
    headers.append(
      'Set-Cookie',
      cookies.serialize('logout', binding, oauth.config.tokens.loginRequestTtlSeconds),
    )
    const token = await oauth.logoutConfirmations.create(pending, binding)
    const client = oauth.clients.get(pending.clientId ?? '')
    // CSP form-action also governs the redirect that follows the POST.
    const target = pending.redirectUri && formActionSource(pending.redirectUri)
    return htmlResponse(
      logoutConfirmationPage({ action, token, clientName: client?.name ?? client?.id }),
      200,
      { headers, formTargets: target ? [target] : [] },
    )
  }

  const handle = async (c: Context, params: URLSearchParams): Promise<Response> => {
    const session = await oauth.sessions.lookup(cookies.read(c, 'session'))
    const outcome = await requestLogout(oauth, params, session)
    switch (outcome.kind) {
      case 'fatal':
        throw new OAuthError('invalid_request', outcome.description)
      case 'confirm':
        return askFirst(c, outcome.pending)
      case 'ended':
        return finished(outcome.location)
      case 'done':
        return finished(undefined)
    }
  }

  const confirm = async (c: Context, token: string): Promise<Response> => {
    if (isCrossSite(c.req.raw.headers, issuerOrigin)) throw crossSiteError()
    const pending = await oauth.logoutConfirmations.take(token, cookies.read(c, 'logout'))
    if (!pending)
      throw new OAuthError(
        'access_denied',
        'This sign-out form has expired or was opened in another browser. Sign out again from the application.',
      )
    const { location } = await confirmLogout(oauth, pending)
    const headers = new Headers()
    headers.append('Set-Cookie', cookies.clear('logout'))
    return finished(location, headers)
  }

  app.use(`${base}${ENDPOINTS.logout}`, errorFormat('html'))
  app.get(`${base}${ENDPOINTS.logout}`, (c) => {
    if (c.req.url.length > 16 * 1024)
      throw new OAuthError('invalid_request', 'The request is too long.')
    return handle(c, new URL(c.req.url).searchParams)
  })
  app.post(`${base}${ENDPOINTS.logout}`, async (c) => {
    const form = await readForm(c.req.raw)
    const confirmation = form.getAll('confirmation')
    if (confirmation.length === 0) return handle(c, form)
    if (confirmation.length > 1 || !confirmation[0])
      throw new OAuthError('invalid_request', 'A request parameter is repeated.')
    return confirm(c, confirmation[0])
  })
  return app
}
