/**
 * Response helpers for the OAuth endpoints: no-store headers for anything carrying tokens
 * (RFC 6749 §5.1) and CORS for the browser-facing endpoints. Errors are not built here: routes throw
 * and the app's `onError` renders them (src/http/error-response.ts).
 */
import type { OAuthContext } from '../../core/oauth/context.ts'

/** RFC 6749 §5.1: token responses (and their errors) must not be cached. */
export function noStore(headers = new Headers()): Headers {
  headers.set('Cache-Control', 'no-store')
  headers.set('Pragma', 'no-cache')
  return headers
}

/**
 * A JSON response; `headers` default to {@link noStore}. A plain record is handed to the runtime as
 * is: on @hono/node-server it is written without a `Headers` object being built and walked.
 *
 * @example return jsonResponse(body, 200, { 'Cache-Control': 'no-store', Pragma: 'no-cache' })
 */
export function jsonResponse(
  body: unknown,
  status: number,
  headers: Headers | Record<string, string> = noStore(),
): Response {
  if (headers instanceof Headers) headers.set('Content-Type', 'application/json')
  else headers['Content-Type'] = 'application/json'
  return new Response(JSON.stringify(body), { status, headers })
}

/**
 * CORS for browser clients (SPAs) at /token, /revoke, /userinfo: only origins a client registered in
 * `allowedOrigins`; no credentials (cookies) are ever allowed cross-origin.
 */
export function corsHeaders(
  oauth: OAuthContext,
  request: Request,
  headers = new Headers(),
): Headers {
  const origin = request.headers.get('origin')
  headers.append('Vary', 'Origin')
  if (origin !== null && oauth.clients.isAllowedOrigin(origin)) {
    headers.set('Access-Control-Allow-Origin', origin)
    headers.set('Access-Control-Expose-Headers', 'WWW-Authenticate, DPoP-Nonce')
  }
  return headers
}

export function preflightResponse(
  oauth: OAuthContext,
  request: Request,
  methods: string,
): Response {
  const headers = corsHeaders(oauth, request)
  if (headers.has('Access-Control-Allow-Origin')) {
    headers.set('Access-Control-Allow-Methods', methods)
    headers.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, DPoP')
    headers.set('Access-Control-Max-Age', '600')
  }
  return new Response(null, { status: 204, headers })
}

/**
 * A redirect that is never cached (it may carry a code or a state).
 *
 * @example return redirectResponse(location, 302)
 */
export function redirectResponse(
  location: string,
  status: 302 | 303,
  headers = new Headers(),
): Response {
  headers.set('Location', location)
  headers.set('Cache-Control', 'no-store')
  return new Response(null, { status, headers })
}
