/**
 * The hosted sign-in page, bound to this browser: a pre-login cookie (re-used while it is plain, else
 * fresh) and a CSRF token stored with the authorization request (login-requests.ts explains the
 * defence). The page's `form-action` also lists the client's redirect origin, because browsers apply
 * it to the redirect after the POST.
 *
 * @example
 * const pages = loginPages(deps)
 * return pages.show(c, authRequest, 200)
 */
import type { Context } from 'hono'
import type { AuthorizationRequest } from '../../core/oauth/authorize.ts'
import { randomToken } from '../../core/oauth/crypto.ts'
import { ENDPOINTS, endpointUrl } from '../../core/oauth/endpoints.ts'
import type { LoginCookies } from './cookies.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { formActionSource, htmlResponse, loginPage } from './html.ts'

export interface LoginPageExtras {
  /** The form's CSRF token when the page is shown again after a failed attempt. */
  csrfToken?: string
  error?: string
  username?: string | undefined
}

export interface LoginPages {
  show(
    c: Context,
    authRequest: AuthorizationRequest,
    status: number,
    extras?: LoginPageExtras,
  ): Promise<Response>
}

const BINDING = /^[A-Za-z0-9_-]{43}$/

export function loginPages(deps: OAuthRouteDeps, cookies: LoginCookies): LoginPages {
  const { oauth } = deps
  const action = endpointUrl(oauth.issuer, ENDPOINTS.login)
  return {
    async show(c, authRequest, status, extras = {}) {
      let binding = cookies.read(c, 'login')
      if (binding === undefined || !BINDING.test(binding)) binding = randomToken(32)
      const headers = new Headers()
      headers.append(
        'Set-Cookie',
        cookies.serialize('login', binding, oauth.config.tokens.loginRequestTtlSeconds),
      )
      const csrfToken = extras.csrfToken ?? (await oauth.loginRequests.create(authRequest, binding))
      const client = oauth.clients.get(authRequest.clientId)
      const target = formActionSource(authRequest.redirectUri)
      return htmlResponse(
        loginPage({
          action,
          csrfToken,
          clientName: client?.name ?? authRequest.clientId,
          username: extras.username,
          error: extras.error,
          branding: oauth.config.branding,
        }),
        status,
        { headers, formTargets: target ? [target] : [] },
      )
    },
  }
}
