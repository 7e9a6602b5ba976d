/**
 * POST /login, the hosted form's submission: find the authorization request the CSRF token and the
 * pre-login cookie point at, check the credentials (uniform failure, rate limits per IP and per
 * username with the real wait in `Retry-After`), then start a fresh session and issue the code.
 *
 * @example app.post('/login', loginRoute(deps, cookies, pages))
 */
import type { Context } from 'hono'
import { issueCodeRedirect } from '../../core/oauth/authorization.ts'
import type { AuthorizationRequest } from '../../core/oauth/authorize.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { LoginError, type User } from '../../core/oauth/users.ts'
import type { GatehouseEnv } from '../types.ts'
import type { LoginCookies } from './cookies.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import type { LoginPages } from './login-page.ts'
import { redirectResponse } from './responses.ts'

const MAX_USERNAME = 128
const MAX_PASSWORD = 1024
const INVALID_CREDENTIALS = 'Invalid username or password.'

interface Submission {
  authRequest: AuthorizationRequest
  csrfToken: string
  username: string
  password: string
}

export function loginRoute(deps: OAuthRouteDeps, cookies: LoginCookies, pages: LoginPages) {
  const { oauth } = deps

  /** The submission, bound to its authorization request; 403 when the form is stale or foreign. */
  const readSubmission = async (c: Context<GatehouseEnv>): Promise<Submission> => {
    const form = await readForm(c.req.raw)
    const csrf = form.getAll('csrf_token')
    const authRequest =
      csrf.length === 1 && csrf[0]
        ? await oauth.loginRequests.find(csrf[0], cookies.read(c, 'login'))
        : undefined
    if (!authRequest)
      throw new OAuthError(
        'access_denied',
        'This sign-in form has expired or was opened in another browser. Start again from the application.',
      )
    const single = (name: string): string => {
      const values = form.getAll(name)
      return values.length === 1 ? (values[0] ?? '') : ''
    }
    return {
      authRequest,
      csrfToken: csrf[0] as string,
      username: single('username'),
      password: single('password'),
    }
  }

  /** The user, or the login page again with the one uniform message (429 + wait when limited). */
  const authenticate = async (
    c: Context<GatehouseEnv>,
    s: Submission,
  ): Promise<User | Response> => {
    const { username, password } = s
    if (
      !username ||
      !password ||
      username.length > MAX_USERNAME ||
      password.length > MAX_PASSWORD
    ) {
      deps.metrics?.loginFailed('malformed')
      return pages.show(c, s.authRequest, 400, {
        csrfToken: s.csrfToken,
        error: INVALID_CREDENTIALS,
      })
    }
    try {
      return await oauth.users.authenticate({
        username,
        password,
        ip: deps.clientIp?.(c) ?? 'unknown',
      })
    } catch (e) {
      if (!(e instanceof LoginError)) throw e
      deps.metrics?.loginFailed(e.code)
      const response = await pages.show(c, s.authRequest, e.status, {
        csrfToken: s.csrfToken,
        username: e.code === 'rate_limited' ? undefined : username,
        error: e.description,
      })
      if (e.retryAfterSeconds !== undefined)
        response.headers.set('Retry-After', String(e.retryAfterSeconds))
      return response
    }
  }

  return async (c: Context<GatehouseEnv>): Promise<Response> => {
    const submission = await readSubmission(c)
    const user = await authenticate(c, submission)
    if (user instanceof Response) return user
    // A fresh session id on every sign-in (no session fixation).
    const { cookieValue, session } = await oauth.sessions.create({ sub: user.sub })
    await oauth.loginRequests.consume(submission.csrfToken)
    const headers = new Headers()
    headers.append(
      'Set-Cookie',
      cookies.serialize('session', cookieValue, oauth.config.tokens.sessionTtlSeconds),
    )
    return redirectResponse(
      await issueCodeRedirect(oauth, submission.authRequest, session),
      303,
      headers,
    )
  }
}
