/**
 * Errors the browser client reports, with a stable `code` to switch on. Messages are written here and
 * never quote a token, a code or a verifier; an authorization server's `error` is passed through as
 * the code's detail only when it is one of the registered OAuth values.
 */
import * as oauth from 'oauth4webapi'

export type GatehouseClientErrorCode =
  /** The callback's `state` is not the one this tab sent (RFC 6749 §10.12, CSRF). */
  | 'state_mismatch'
  /** The callback's `iss` is not our issuer (RFC 9207 §2.4, mix-up attack). */
  | 'issuer_mismatch'
  /** The authorization server answered with an error (`login_required`, `access_denied`, ...). */
  | 'authorization_error'
  /** The token endpoint refused a code or refresh token, or answered something invalid. */
  | 'token_error'
  /** The user is not signed in (no token to send). */
  | 'login_required'
  /** A network failure or a server that did not answer as the protocol says. */
  | 'network_error'

export class GatehouseClientError extends Error {
  override readonly name = 'GatehouseClientError'
  readonly code: GatehouseClientErrorCode
  /** The OAuth `error` value from the server, when there was one (RFC 6749 §4.1.2.1, §5.2). */
  readonly oauthError: string | undefined

  constructor(code: GatehouseClientErrorCode, message: string, oauthError?: string) {
    super(message)
    this.code = code
    this.oauthError = oauthError
  }
}

// RFC 6749 §4.1.2.1 / §5.2 and OIDC Core §3.1.2.6 error codes: safe to show, unlike free text.
const KNOWN_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'invalid_client',
  'invalid_grant',
  'unsupported_grant_type',
  'login_required',
  'interaction_required',
  'consent_required',
  'account_selection_required',
  'invalid_target',
])

/** The server's error code if it is a registered one, else `unknown_error`. */
export const knownOAuthError = (value: unknown): string =>
  typeof value === 'string' && KNOWN_ERRORS.has(value) ? value : 'unknown_error'

/** Maps oauth4webapi and network failures to our errors, without their messages (may quote input). */
export function asClientError(e: unknown): GatehouseClientError {
  if (e instanceof GatehouseClientError) return e
  if (e instanceof oauth.ResponseBodyError) {
    const code = knownOAuthError(e.error)
    return new GatehouseClientError(
      'token_error',
      `The issuer refused the request (${code}).`,
      code,
    )
  }
  if (e instanceof oauth.AuthorizationResponseError) {
    const code = knownOAuthError(e.error)
    return new GatehouseClientError('authorization_error', `The sign-in failed (${code}).`, code)
  }
  if (e instanceof oauth.OperationProcessingError)
    return new GatehouseClientError('token_error', 'The issuer answered with an invalid response.')
  return new GatehouseClientError('network_error', 'The issuer could not be reached.')
}
