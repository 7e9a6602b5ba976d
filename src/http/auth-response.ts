/**
 * RFC 6750 §3 responses for `AuthError`s, used by `requireAuth` (so it works in any Hono app, without
 * our `onError`) and by the app's `onError`. Bodies are `{ error, error_description }` (RFC 6749 §5.2
 * shape); descriptions come from `AuthError.description`, which never contains the token.
 */
import { AuthError } from '../core/errors.ts'

export const DEFAULT_REALM = 'gatehouse'

// RFC 6750 §3: error_description and scope values are quoted-strings restricted to
// %x20-21 / %x23-5B / %x5D-7E (no `"` and no `\`), so anything else is replaced.
const quoted = (value: string): string =>
  `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`

/**
 * Builds the `WWW-Authenticate` challenge. With no error (the request carried no token at all, or used
 * another auth scheme) RFC 6750 §3.1 says the challenge SHOULD NOT include an error code.
 *
 * @example bearerChallenge('gatehouse', { error: 'invalid_token', description: 'token expired' })
 */
export function bearerChallenge(
  realm: string,
  detail?: { error: string; description: string; scope?: string },
): string {
  const parts = [`realm=${quoted(realm)}`]
  if (detail) {
    parts.push(`error=${quoted(detail.error)}`, `error_description=${quoted(detail.description)}`)
    if (detail.scope !== undefined) parts.push(`scope=${quoted(detail.scope)}`)
  }
  return `Bearer ${parts.join(', ')}`
}

/** An `insufficient_scope` error that also says which scopes were required (RFC 6750 §3). */
export class InsufficientScopeError extends AuthError {
  readonly requiredScopes: string[]

  constructor(requiredScopes: string[]) {
    super('insufficient_scope', 'the access token does not grant the required scope')
    this.requiredScopes = requiredScopes
  }
}

/**
 * Turns an `AuthError` into its RFC 6750 response: 400 `invalid_request`, 401 (no error code for a
 * missing token, else `invalid_token`), 403 `insufficient_scope` with `scope="..."`, or 503 with
 * `Retry-After` when the key set cannot be fetched. Always `Cache-Control: no-store`.
 *
 * @example return authErrorResponse(new AuthError('token_expired', 'token expired'))
 */
export function authErrorResponse(err: AuthError, realm: string = DEFAULT_REALM): Response {
  const headers = new Headers({
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
  })
  if (err.retryAfterSeconds !== undefined) {
    headers.set('Retry-After', String(err.retryAfterSeconds))
  } else if (err.code === 'token_missing') {
    headers.set('WWW-Authenticate', bearerChallenge(realm))
  } else {
    const scope = err instanceof InsufficientScopeError ? err.requiredScopes.join(' ') : undefined
    headers.set(
      'WWW-Authenticate',
      bearerChallenge(realm, {
        error: err.rfcError,
        description: err.description,
        ...(scope === undefined ? {} : { scope }),
      }),
    )
  }
  const body = JSON.stringify({ error: err.rfcError, error_description: err.description })
  return new Response(body, { status: err.status, headers })
}
