/**
 * The hosted login's cookies, through `hono/cookie`: the session cookie, the pre-login cookie that
 * binds the login form's CSRF token to this browser, and the one that binds a logout confirmation form
 * likewise (logout-confirmations.ts). Both `HttpOnly`, `SameSite=Lax` (the redirect from
 * a client to /authorize is a top-level GET, which Lax allows), `Path=/`, and on https `Secure` with
 * the `__Host-` prefix (RFC 6265bis §4.1.3.2), which forbids a `Domain` attribute and so stops a
 * sibling subdomain from planting one. Plain http is only ever allowed for loopback issuers
 * (core/urls.ts), where browsers would drop a `Secure` cookie.
 *
 * @example
 * const cookies = loginCookies(issuer)
 * headers.append('Set-Cookie', cookies.serialize('session', value, 28800))
 * const session = cookies.read(c, 'session')
 */
import type { Context } from 'hono'
import { generateCookie, getCookie } from 'hono/cookie'

export type LoginCookieName = 'session' | 'login' | 'logout'

const NAMES: Record<LoginCookieName, string> = {
  session: 'gatehouse_session',
  login: 'gatehouse_login',
  logout: 'gatehouse_logout',
}

/** Our values are base64url and dots; anything else (or a huge header) was not set by us. */
const PLAIN_VALUE = /^[A-Za-z0-9_.-]{1,256}$/
const MAX_COOKIE_HEADER = 8192

export interface LoginCookies {
  /** The cookie's value if the browser sent a plain one. */
  read(c: Context, name: LoginCookieName): string | undefined
  /** A `Set-Cookie` value. */
  serialize(name: LoginCookieName, value: string, maxAgeSeconds: number): string
  /** A `Set-Cookie` value that deletes the cookie. */
  clear(name: LoginCookieName): string
}

export function loginCookies(issuer: string): LoginCookies {
  const secure = new URL(issuer).protocol === 'https:'
  const prefix = secure ? ('host' as const) : undefined
  const serialize = (name: LoginCookieName, value: string, maxAge: number): string =>
    generateCookie(NAMES[name], value, {
      path: '/',
      httpOnly: true,
      sameSite: 'Lax',
      secure,
      maxAge,
      ...(prefix ? { prefix } : {}),
    })
  return {
    read(c, name) {
      if ((c.req.header('cookie')?.length ?? 0) > MAX_COOKIE_HEADER) return undefined
      const value = getCookie(c, NAMES[name], prefix)
      return value !== undefined && PLAIN_VALUE.test(value) ? value : undefined
    },
    serialize,
    clear: (name) => serialize(name, '', 0),
  }
}
