/**
 * RFC 6750 §3 responses for `AuthError`s, used by `requireAuth` (so it works in any Hono app, without
 * our `onError`) and by the app's `onError`. Bodies are `{ error, error_description }` (RFC 6749 §5.2
 * shape); descriptions come from `AuthError.description`, which never contains the token.
 */
import { DPOP_ALGS } from '../core/dpop.ts'
import { AuthError, type AuthScheme } from '../core/errors.ts'

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

/**
 * The `DPoP` challenge (RFC 9449 §7.1): the same parameters as a bearer challenge plus `algs`, the
 * proof algorithms accepted.
 *
 * @example dpopChallenge('gatehouse', { error: 'invalid_dpop_proof', description: 'proof expired' })
 */
export function dpopChallenge(
  realm: string,
  detail?: { error: string; description: string; scope?: string },
): string {
  return `DPoP${bearerChallenge(realm, detail).slice('Bearer'.length)}, algs="${DPOP_ALGS.join(' ')}"`
}

const challenge = (scheme: AuthScheme) => (scheme === 'DPoP' ? dpopChallenge : bearerChallenge)

/** An `insufficient_scope` error that also says which scopes were required (RFC 6750 §3). */
export class InsufficientScopeError extends AuthError {
  readonly requiredScopes: string[]

  constructor(requiredScopes: string[], scheme: AuthScheme = 'Bearer') {
    super('insufficient_scope', 'the access token does not grant the required scope', scheme)
    this.requiredScopes = requiredScopes
  }

  override withScheme(scheme: AuthScheme): AuthError {
    return scheme === this.scheme ? this : new InsufficientScopeError(this.requiredScopes, scheme)
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
  for (const [name, value] of Object.entries(err.headers ?? {})) headers.set(name, value)
  if (err.retryAfterSeconds !== undefined) {
    headers.set('Retry-After', String(err.retryAfterSeconds))
  } else if (err.code === 'token_missing') {
    headers.set('WWW-Authenticate', challenge(err.scheme)(realm))
  } else {
    const scope = err instanceof InsufficientScopeError ? err.requiredScopes.join(' ') : undefined
    headers.set(
      'WWW-Authenticate',
      challenge(err.scheme)(realm, {
        error: err.rfcError,
        description: err.description,
        ...(scope === undefined ? {} : { scope }),
      }),
    )
  }
  const body = JSON.stringify({ error: err.rfcError, error_description: err.description })
  return new Response(body, { status: err.status, headers })
}
