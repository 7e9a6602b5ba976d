/**
 * RP-initiated logout (OIDC RP-Initiated Logout §2, GET and POST): ends the browser's session, clears
 * the cookie, then redirects to a registered `post_logout_redirect_uri` (with `state`) or shows the
 * signed-out page. An invalid request is shown on an error page, never redirected.
 */
import { Hono } from 'hono'
import { ENDPOINTS } from '../../core/oauth/endpoints.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { logout } from '../../core/oauth/logout.ts'
import { isStoreError } from '../../store/errors.ts'
import type { GatehouseEnv } from '../types.ts'
import { clearCookie, cookiePolicy, readCookie } from './cookies.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { errorPage, htmlResponse, signedOutPage } from './html.ts'

export function logoutRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const { oauth, logger } = deps
  const cookies = cookiePolicy(oauth.issuer)
  const app = new Hono<GatehouseEnv>()

  const handle = async (request: Request, params: URLSearchParams): Promise<Response> => {
    const session = await oauth.sessions.lookup(
      readCookie(request.headers.get('cookie'), cookies.session),
    )
    const outcome = await logout(oauth, params, session)
    if (outcome.kind === 'fatal') return htmlResponse(errorPage(outcome.description), 400)
    const headers = new Headers()
    headers.append('Set-Cookie', clearCookie(cookies, cookies.session))
    if (outcome.kind === 'done') return htmlResponse(signedOutPage(), 200, { headers })
    headers.set('Location', outcome.location)
    headers.set('Cache-Control', 'no-store')
    return new Response(null, { status: 303, headers })
  }

  const fail = (err: unknown): Response => {
    if (err instanceof OAuthError) return htmlResponse(errorPage(err.description), err.status)
    const store = isStoreError(err)
    logger?.log({
      level: 'error',
      msg: 'logout failed',
      errorName: err instanceof Error ? err.name : typeof err,
    })
    return htmlResponse(
      errorPage(store ? 'The service is temporarily unavailable.' : 'An internal error occurred.'),
      store ? 503 : 500,
    )
  }

  app.get(`${base}${ENDPOINTS.logout}`, async (c) => {
    try {
      if (c.req.url.length > 16 * 1024)
        return htmlResponse(errorPage('The request is too long.'), 400)
      return await handle(c.req.raw, new URL(c.req.url).searchParams)
    } catch (e) {
      return fail(e)
    }
  })
  app.post(`${base}${ENDPOINTS.logout}`, async (c) => {
    try {
      return await handle(c.req.raw, await readForm(c.req.raw))
    } catch (e) {
      return fail(e)
    }
  })
  return app
}
