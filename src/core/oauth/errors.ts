import { GatehouseError } from '../errors.ts'

/**
 * OAuth protocol errors (RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1, RFC 8707 §2, OIDC Core §3.1.2.6).
 * One class with a stable `error` code and an HTTP status, a `GatehouseError` like every error that
 * becomes a response (core/errors.ts); the description is always a fixed, safe sentence chosen by us —
 * never a token, secret, password or echo of client input.
 *
 * @example throw new OAuthError('invalid_grant', 'The authorization code is invalid or expired.')
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'login_required'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'slow_down'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  // RFC 6749 §5.2: 401 for invalid_client (with WWW-Authenticate when the client used a header scheme).
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  login_required: 400,
  request_not_supported: 400,
  request_uri_not_supported: 400,
  // RFC 6750 §3.1.
  invalid_token: 401,
  insufficient_scope: 403,
  slow_down: 429,
  server_error: 500,
  temporarily_unavailable: 503,
  // RFC 9449 §5 and §8: token endpoint errors, 400 like the other §5.2 errors.
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
}

/** Seconds to wait after `temporarily_unavailable` (a 503) or `slow_down` (a 429). */
const RETRY_AFTER_SECONDS = 1

export class OAuthError extends GatehouseError {
  override readonly name: string = 'OAuthError'
  declare readonly code: OAuthErrorCode
  declare readonly rfcError: OAuthErrorCode

  /**
   * `status` overrides the usual one (e.g. 413 for an oversized `invalid_request` body);
   * `retryAfterSeconds` the 1 s default of a 503 or 429; `headers` are sent with the error
   * (`DPoP-Nonce` with `use_dpop_nonce`, RFC 9449 §8).
   */
  constructor(
    error: OAuthErrorCode,
    description: string,
    status?: number,
    retryAfterSeconds?: number,
    headers?: Readonly<Record<string, string>>,
  ) {
    const finalStatus = status ?? STATUS[error]
    const transient = finalStatus === 503 || finalStatus === 429
    super({
      code: error,
      description,
      status: finalStatus,
      rfcError: error,
      ...(transient ? { retryAfterSeconds: retryAfterSeconds ?? RETRY_AFTER_SECONDS } : {}),
      ...(headers === undefined ? {} : { headers }),
    })
  }

  /** The RFC 6749 §5.2 error code; the same as `code`. */
  get error(): OAuthErrorCode {
    return this.code
  }

  /** The RFC 6749 §5.2 JSON body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description }
  }
}

export const isOAuthError = (e: unknown): e is OAuthError => e instanceof OAuthError
