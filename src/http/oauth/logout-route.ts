/**
 * RP-initiated logout (OIDC RP-Initiated Logout §2, GET and POST): ends the browser's session, clears
 * the cookie, then redirects to a registered `post_logout_redirect_uri` (with `state`) or shows the
 * signed-out page. An invalid request is shown on an error page (the app's `onError`, html format),
 * never redirected.
 */
import { Hono, type Context } from 'hono'
import { ENDPOINTS } from '../../core/oauth/endpoints.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { logout } from '../../core/oauth/logout.ts'
import { errorFormat } from '../error-response.ts'
import type { GatehouseEnv } from '../types.ts'
import { loginCookies } from './cookies.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { htmlResponse, signedOutPage } from './html.ts'
import { redirectResponse } from './responses.ts'

export function logoutRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const { oauth } = deps
  const cookies = loginCookies(oauth.issuer)
  const app = new Hono<GatehouseEnv>()

  const handle = async (c: Context, params: URLSearchParams): Promise<Response> => {
    const session = await oauth.sessions.lookup(cookies.read(c, 'session'))
    const outcome = await logout(oauth, params, session)
    if (outcome.kind === 'fatal') throw new OAuthError('invalid_request', outcome.description)
    const headers = new Headers()
    headers.append('Set-Cookie', cookies.clear('session'))
    if (outcome.kind === 'done') return htmlResponse(signedOutPage(), 200, { headers })
    return redirectResponse(outcome.location, 303, headers)
  }

  app.use(`${base}${ENDPOINTS.logout}`, errorFormat('html'))
  app.get(`${base}${ENDPOINTS.logout}`, (c) => {
    if (c.req.url.length > 16 * 1024)
      throw new OAuthError('invalid_request', 'The request is too long.')
    return handle(c, new URL(c.req.url).searchParams)
  })
  app.post(`${base}${ENDPOINTS.logout}`, async (c) => handle(c, await readForm(c.req.raw)))
  return app
}
