/**
 * The hosted login's cookies: the session cookie and the pre-login cookie that binds the login form's
 * CSRF token to this browser. Both `HttpOnly`, `SameSite=Lax` (the redirect from a client to
 * /authorize is a top-level GET, which Lax allows), `Path=/`, and on https `Secure` with the `__Host-`
 * prefix, which forbids a `Domain` attribute and so stops a sibling subdomain from planting one.
 * Plain http is only ever allowed for localhost/127.0.0.1 issuers (config.ts), where browsers would
 * drop a `Secure` cookie.
 *
 * @example
 * const cookies = cookiePolicy(issuer)
 * headers.append('Set-Cookie', setCookie(cookies, cookies.session, value, 28800))
 */
export interface CookiePolicy {
  secure: boolean
  session: string
  login: string
}

export function cookiePolicy(issuer: string): CookiePolicy {
  const secure = new URL(issuer).protocol === 'https:'
  const prefix = secure ? '__Host-' : ''
  return { secure, session: `${prefix}gatehouse_session`, login: `${prefix}gatehouse_login` }
}

/** The first cookie named `name` in a Cookie header, if its value is plain (base64url and dots). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (header === null || header.length > 8192) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    const value = part.slice(eq + 1).trim()
    return /^[A-Za-z0-9_.-]{1,256}$/.test(value) ? value : undefined
  }
  return undefined
}

export function setCookie(
  policy: CookiePolicy,
  name: string,
  value: string,
  maxAgeSeconds: number,
): string {
  const secure = policy.secure ? '; Secure' : ''
  return `${name}=${value}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; SameSite=Lax${secure}`
}

export function clearCookie(policy: CookiePolicy, name: string): string {
  return setCookie(policy, name, '', 0)
}
