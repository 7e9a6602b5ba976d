/**
 * Response helpers for the OAuth endpoints: RFC 6749 §5.2 JSON errors (with `WWW-Authenticate: Basic`
 * on every 401 `invalid_client`, RFC 6750 §3 `Bearer` challenges at /userinfo), no-store headers for
 * anything carrying tokens (RFC 6749 §5.1), CORS for the browser-facing endpoints, and the mapping of
 * unexpected failures: a store outage is a 503 with Retry-After, anything else a generic 500 — the
 * error's message is never sent or logged (it may quote input).
 */
import type { OAuthContext } from '../../core/oauth/context.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { isStoreError } from '../../store/errors.ts'
import type { Logger } from '../log.ts'

export const REALM = 'gatehouse'

/** RFC 6749 §5.1: token responses (and their errors) must not be cached. */
export function noStore(headers = new Headers()): Headers {
  headers.set('Cache-Control', 'no-store')
  headers.set('Pragma', 'no-cache')
  return headers
}

export function jsonResponse(body: unknown, status: number, headers = noStore()): Response {
  headers.set('Content-Type', 'application/json')
  return new Response(JSON.stringify(body), { status, headers })
}

const quoted = (value: string): string => value.replace(/["\\]/g, '')

export function oauthErrorResponse(
  err: OAuthError,
  headers: Headers,
  options: { bearer?: boolean } = {},
): Response {
  // RFC 6749 §5.2: a 401 invalid_client names the scheme the server supports; RFC 9110 §15.5.2: every
  // 401 carries a challenge, also when the client sent its secret in the body.
  if (err.error === 'invalid_client' && err.status === 401)
    headers.set('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`)
  if (
    options.bearer &&
    (err.status === 401 || err.status === 403 || err.error === 'invalid_request')
  )
    headers.set(
      'WWW-Authenticate',
      `Bearer realm="${REALM}", error="${err.error}", error_description="${quoted(err.description)}"`,
    )
  if (err.status === 503) headers.set('Retry-After', '1')
  return jsonResponse(err.toJSON(), err.status, headers)
}

/** Maps anything thrown by a handler to a response; logs unexpected errors by name only. */
export function failureResponse(
  err: unknown,
  headers: Headers,
  logger: Logger | undefined,
  options: { bearer?: boolean } = {},
): Response {
  if (err instanceof OAuthError) return oauthErrorResponse(err, headers, options)
  if (isStoreError(err)) {
    logger?.log({
      level: 'error',
      msg: 'oauth store failure',
      operation: err.operation,
      code: err.code,
    })
    return oauthErrorResponse(
      new OAuthError('temporarily_unavailable', 'The service is temporarily unavailable.'),
      headers,
    )
  }
  logger?.log({
    level: 'error',
    msg: 'oauth endpoint failed',
    errorName: err instanceof Error ? err.name : typeof err,
  })
  return jsonResponse(
    { error: 'server_error', error_description: 'An internal error occurred.' },
    500,
    headers,
  )
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
    headers.set('Access-Control-Expose-Headers', 'WWW-Authenticate')
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
