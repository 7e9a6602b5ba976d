/**
 * Every verification failure is an `AuthError` with a stable `code` that callers switch on (the jose
 * habit), mapped once to the RFC 6750 §3.1 error and HTTP status. The `description` is safe to send to
 * a client: it never contains the token, a key or a secret.
 *
 * @example
 * try { await verifier.verify(token) } catch (e) { if (e instanceof AuthError) e.rfcError }
 */
export type AuthErrorCode =
  | 'token_missing'
  | 'request_malformed'
  | 'token_too_large'
  | 'token_malformed'
  | 'alg_not_allowed'
  | 'kid_unknown'
  | 'header_untrusted'
  | 'crit_unsupported'
  | 'signature_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_issued_in_future'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'type_mismatch'
  | 'claim_invalid'
  | 'token_revoked'
  | 'insufficient_scope'
  | 'jwks_unavailable'
  | 'revocation_unavailable'

/**
 * RFC 6750 §3.1 error codes. `server_error` is ours for an unreachable key set (a 503, not a 401);
 * `temporarily_unavailable` (RFC 6749 §4.1.2.1) when revocation state is too stale to decide (a 503
 * the client retries, not a 401 that would make it discard a possibly valid token).
 */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable'

const RFC_ERROR: Record<AuthErrorCode, BearerErrorCode> = {
  token_missing: 'invalid_request',
  request_malformed: 'invalid_request',
  token_too_large: 'invalid_token',
  token_malformed: 'invalid_token',
  alg_not_allowed: 'invalid_token',
  kid_unknown: 'invalid_token',
  header_untrusted: 'invalid_token',
  crit_unsupported: 'invalid_token',
  signature_invalid: 'invalid_token',
  token_expired: 'invalid_token',
  token_not_yet_valid: 'invalid_token',
  token_issued_in_future: 'invalid_token',
  issuer_mismatch: 'invalid_token',
  audience_mismatch: 'invalid_token',
  type_mismatch: 'invalid_token',
  claim_invalid: 'invalid_token',
  token_revoked: 'invalid_token',
  insufficient_scope: 'insufficient_scope',
  jwks_unavailable: 'server_error',
  revocation_unavailable: 'temporarily_unavailable',
}

const STATUS: Record<BearerErrorCode, 400 | 401 | 403 | 503> = {
  // RFC 6750 §3.1: a request with no token at all gets 401 with no error code; a malformed request 400.
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  server_error: 503,
  temporarily_unavailable: 503,
}

export class AuthError extends Error {
  override readonly name = 'AuthError'
  readonly code: AuthErrorCode
  /** Safe for clients and logs: never includes the token or key material. */
  readonly description: string

  constructor(code: AuthErrorCode, description: string) {
    super(description)
    this.code = code
    this.description = description
  }

  get rfcError(): BearerErrorCode {
    return RFC_ERROR[this.code]
  }

  /** HTTP status for this error. A missing token is 401 (RFC 6750 §3.1), not 400. */
  get status(): 400 | 401 | 403 | 503 {
    return this.code === 'token_missing' ? 401 : STATUS[this.rfcError]
  }
}

export const isAuthError = (e: unknown): e is AuthError => e instanceof AuthError
