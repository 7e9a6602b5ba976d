/**
 * The front-channel: /authorize (RFC 6749 §4.1.1, GET and POST as OIDC Core §3.1.2.1 requires) and the
 * hosted login form's POST /login. A request is validated first (authorize.ts); if the browser has a
 * session that satisfies it, the code is issued at once (first-party clients, no consent screen);
 * otherwise the login page is shown, bound to a pre-login cookie (login-requests.ts explains the CSRF
 * defence). Failed sign-ins get one uniform message; both IP and username are rate-limited.
 */
import { Hono } from 'hono'
import { errorRedirect, issueCodeRedirect, needsLogin } from '../../core/oauth/authorization.ts'
import {
  authorizationResponseUrl,
  validateAuthorizationRequest,
  type AuthorizationRequest,
} from '../../core/oauth/authorize.ts'
import { randomToken } from '../../core/oauth/crypto.ts'
import { ENDPOINTS, endpointUrl } from '../../core/oauth/endpoints.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import type { SessionRecord } from '../../core/oauth/sessions.ts'
import { LoginError } from '../../core/oauth/users.ts'
import { isStoreError } from '../../store/errors.ts'
import type { GatehouseEnv } from '../types.ts'
import { cookiePolicy, readCookie, setCookie } from './cookies.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { errorPage, formActionSource, htmlResponse, loginPage } from './html.ts'

const MAX_QUERY = 16 * 1024
const MAX_USERNAME = 128
const MAX_PASSWORD = 1024
const INVALID_CREDENTIALS = 'Invalid username or password.'

const redirect = (location: string, status: 302 | 303, headers = new Headers()): Response => {
  headers.set('Location', location)
  headers.set('Cache-Control', 'no-store')
  return new Response(null, { status, headers })
}

export function authorizeRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const { oauth, logger } = deps
  const cookies = cookiePolicy(oauth.issuer)
  const loginAction = endpointUrl(oauth.issuer, ENDPOINTS.login)
  const app = new Hono<GatehouseEnv>()

  const fail = (err: unknown): Response => {
    if (isStoreError(err)) {
      logger?.log({
        level: 'error',
        msg: 'oauth store failure',
        operation: err.operation,
        code: err.code,
      })
      return htmlResponse(errorPage('The service is temporarily unavailable.'), 503)
    }
    if (err instanceof OAuthError) return htmlResponse(errorPage(err.description), err.status)
    logger?.log({
      level: 'error',
      msg: 'authorize failed',
      errorName: err instanceof Error ? err.name : typeof err,
    })
    return htmlResponse(errorPage('An internal error occurred.'), 500)
  }

  const currentSession = async (request: Request): Promise<SessionRecord | undefined> => {
    const session = await oauth.sessions.lookup(
      readCookie(request.headers.get('cookie'), cookies.session),
    )
    return session && oauth.users.bySub(session.sub) ? session : undefined
  }

  async function showLogin(
    request: Request,
    authRequest: AuthorizationRequest,
    status: number,
    extra: { csrfToken?: string; error?: string; username?: string | undefined } = {},
  ): Promise<Response> {
    const headers = new Headers()
    let binding = readCookie(request.headers.get('cookie'), cookies.login)
    if (binding === undefined || !/^[A-Za-z0-9_-]{43}$/.test(binding)) binding = randomToken(32)
    headers.append(
      'Set-Cookie',
      setCookie(cookies, cookies.login, binding, oauth.config.tokens.loginRequestTtlSeconds),
    )
    const csrfToken = extra.csrfToken ?? (await oauth.loginRequests.create(authRequest, binding))
    const client = oauth.clients.get(authRequest.clientId)
    const target = formActionSource(authRequest.redirectUri)
    return htmlResponse(
      loginPage({
        action: loginAction,
        csrfToken,
        clientName: client?.name ?? authRequest.clientId,
        username: extra.username,
        error: extra.error,
      }),
      status,
      { headers, formTargets: target ? [target] : [] },
    )
  }

  const authorize = async (request: Request, params: URLSearchParams): Promise<Response> => {
    const outcome = validateAuthorizationRequest(params, oauth.clients, oauth.issuer)
    // RFC 6749 §4.1.2.1 / RFC 9700 §4.11: never redirect to an unverified URI.
    if (outcome.kind === 'fatal') return htmlResponse(errorPage(outcome.description), 400)
    if (outcome.kind === 'redirect') {
      const { error, description } = {
        error: outcome.error.error,
        description: outcome.error.description,
      }
      return redirect(
        authorizationResponseUrl(outcome.redirectUri, oauth.issuer, {
          error,
          error_description: description,
          state: outcome.state,
        }),
        302,
      )
    }
    const authRequest = outcome.request
    const session = await currentSession(request)
    if (!needsLogin(authRequest, session, oauth.clock()) && session)
      return redirect(await issueCodeRedirect(oauth, authRequest, session), 302)
    // OIDC Core §3.1.2.6: prompt=none must not show UI.
    if (authRequest.prompt.includes('none'))
      return redirect(
        errorRedirect(oauth, authRequest, 'login_required', 'The user is not signed in.'),
        302,
      )
    return showLogin(request, authRequest, 200)
  }

  app.get(`${base}${ENDPOINTS.authorize}`, async (c) => {
    try {
      const url = c.req.url
      if (url.length > MAX_QUERY) return htmlResponse(errorPage('The request is too long.'), 400)
      return await authorize(c.req.raw, new URL(url).searchParams)
    } catch (e) {
      return fail(e)
    }
  })
  app.post(`${base}${ENDPOINTS.authorize}`, async (c) => {
    try {
      return await authorize(c.req.raw, await readForm(c.req.raw))
    } catch (e) {
      return fail(e)
    }
  })

  app.post(`${base}${ENDPOINTS.login}`, async (c) => {
    const request = c.req.raw
    try {
      const form = await readForm(request)
      const csrfToken = form.getAll('csrf_token')
      const binding = readCookie(request.headers.get('cookie'), cookies.login)
      const authRequest =
        csrfToken.length === 1 && csrfToken[0]
          ? await oauth.loginRequests.find(csrfToken[0], binding)
          : undefined
      if (!authRequest)
        return htmlResponse(
          errorPage(
            'This sign-in form has expired or was opened in another browser. Start again from the application.',
          ),
          403,
        )
      const token = csrfToken[0] as string
      const username = form.getAll('username')
      const password = form.getAll('password')
      const name = username.length === 1 ? (username[0] ?? '') : ''
      const secret = password.length === 1 ? (password[0] ?? '') : ''
      if (!name || !secret || name.length > MAX_USERNAME || secret.length > MAX_PASSWORD) {
        deps.metrics?.loginFailed('malformed')
        return showLogin(request, authRequest, 400, {
          csrfToken: token,
          error: INVALID_CREDENTIALS,
        })
      }
      let user
      try {
        user = await oauth.users.authenticate({
          username: name,
          password: secret,
          ip: deps.clientIp?.(c) ?? 'unknown',
        })
      } catch (e) {
        if (!(e instanceof LoginError)) throw e
        const limited = e.code === 'rate_limited'
        deps.metrics?.loginFailed(limited ? 'rate_limited' : 'invalid_credentials')
        const response = await showLogin(request, authRequest, limited ? 429 : 400, {
          csrfToken: token,
          username: limited ? undefined : name,
          error: e.message,
        })
        if (limited) response.headers.set('Retry-After', '60')
        return response
      }
      // A fresh session id on every sign-in (no session fixation).
      const { cookieValue, session } = await oauth.sessions.create({ sub: user.sub })
      await oauth.loginRequests.consume(token)
      const headers = new Headers()
      headers.append(
        'Set-Cookie',
        setCookie(cookies, cookies.session, cookieValue, oauth.config.tokens.sessionTtlSeconds),
      )
      return redirect(await issueCodeRedirect(oauth, authRequest, session), 303, headers)
    } catch (e) {
      return fail(e)
    }
  })
  return app
}
