/**
 * Refuses a form POST the browser says comes from another site: `Sec-Fetch-Site: cross-site` (Fetch
 * Metadata), or an `Origin` that is not the issuer's. Defence in depth for the hosted login and the
 * logout confirmation, beside their CSRF tokens and SameSite cookies (RFC 9700 §4.7, OWASP CSRF
 * cheat sheet "Verifying Origin With Standard Headers").
 *
 * What still passes: same-origin posts; `Sec-Fetch-Site: same-site` or `none`; `Origin: null` (our
 * pages send `Referrer-Policy: no-referrer`, so browsers send `null` on their own POSTs — a hostile
 * opaque origin also says `null`, and is caught by `Sec-Fetch-Site` in every browser that sends it);
 * and requests with neither header (non-browser clients, old browsers). A refusal is an
 * `access_denied` OAuthError (403), rendered as the error page by the app's `onError`.
 *
 * @example app.post(`${base}/login`, refuseCrossSite(oauth.issuer)) // before the login handler
 */
import type { MiddlewareHandler } from 'hono'
import { OAuthError } from '../../core/oauth/errors.ts'
import type { GatehouseEnv } from '../types.ts'

/**
 * True when the request's headers say it was sent by a page of another site.
 *
 * @example isCrossSite(request.headers, 'https://auth.example.com') // false for our own form
 */
export function isCrossSite(headers: Headers, issuerOrigin: string): boolean {
  if (headers.get('sec-fetch-site')?.trim().toLowerCase() === 'cross-site') return true
  const origin = headers.get('origin')
  return origin !== null && origin !== 'null' && origin !== issuerOrigin
}

/** The error for a refused cross-site form POST (403 `access_denied`). */
export const crossSiteError = (): OAuthError =>
  new OAuthError(
    'access_denied',
    'This form was sent from another site. Open the page again from the application and try once more.',
  )

/**
 * Middleware refusing a cross-site request (see {@link isCrossSite}) with {@link crossSiteError};
 * mount it in front of a form handler.
 *
 * @example app.post(path, refuseCrossSite(issuer), handler)
 */
export function refuseCrossSite(issuer: string): MiddlewareHandler<GatehouseEnv> {
  const issuerOrigin = new URL(issuer).origin
  return async (c, next) => {
    if (isCrossSite(c.req.raw.headers, issuerOrigin)) throw crossSiteError()
    return next()
  }
}
