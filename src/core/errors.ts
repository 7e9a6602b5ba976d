/**
 * One error hierarchy for the whole service. Every error that can become a response is a
 * `GatehouseError`: a stable `code` that callers and logs switch on (the jose habit), the HTTP `status`,
 * the RFC error word sent as `error` (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 7662 §2.3),
 * a `description` that is safe to send (never a token, key, secret, password or echo of input), and
 * for transient failures the seconds a client should wait (`Retry-After`, RFC 9110 §10.2.3). The app's
 * one `onError` (src/http/error-response.ts) turns any of them into its body and headers.
 *
 * Subclasses: `AuthError` (bearer-token verification, RFC 6750), `OAuthError` (the OAuth endpoints,
 * core/oauth/errors.ts), `ConfigError` (start-up; never sent), `UpstreamError` (an upstream or the
 * origin did not answer), `StoreError` (the L2 store, src/store/errors.ts).
 *
 * @example
 * try { await verifier.verify(token) } catch (e) { if (e instanceof GatehouseError) e.code }
 */
export interface GatehouseErrorInit {
  /** Stable machine code, e.g. `token_expired`, `invalid_grant`, `store_unavailable`. */
  code: string
  /** Safe for clients and logs. */
  description: string
  status: number
  /** The RFC error word for the body's `error`. */
  rfcError: string
  /** Set for transient failures: the `Retry-After` seconds. */
  retryAfterSeconds?: number
  /**
   * Response headers the answer needs, e.g. `Allow` on a 405 (RFC 9110 §15.5.6), `DPoP-Nonce` with
   * `use_dpop_nonce` (RFC 9449 §8).
   */
  headers?: Readonly<Record<string, string>>
}

export class GatehouseError extends Error {
  override readonly name: string = 'GatehouseError'
  readonly code: string
  /** Safe for clients and logs: never includes the token, key material or a secret. */
  readonly description: string
  readonly status: number
  readonly rfcError: string
  readonly retryAfterSeconds: number | undefined
  readonly headers: Readonly<Record<string, string>> | undefined

  constructor(init: GatehouseErrorInit) {
    super(init.description)
    this.code = init.code
    this.description = init.description
    this.status = init.status
    this.rfcError = init.rfcError
    this.retryAfterSeconds = init.retryAfterSeconds
    this.headers = init.headers
  }

  /** Whether a retry may succeed: the failure is on our side or upstream, not in the request. */
  get transient(): boolean {
    return this.retryAfterSeconds !== undefined
  }
}

export const isGatehouseError = (e: unknown): e is GatehouseError => e instanceof GatehouseError

/** Seconds a client should wait after a 503 for an unreachable key set or stale revocation state. */
export const VERIFICATION_RETRY_AFTER_SECONDS = 5

/**
 * Every verification failure is an `AuthError` with a stable `code`, mapped once to the RFC 6750 §3.1
 * error and HTTP status.
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
  | 'dpop_proof_invalid'
  | 'dpop_nonce_required'
  | 'dpop_binding_mismatch'
  | 'dpop_replay_unavailable'

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
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'

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
  // RFC 9449 §7.1: a bad proof is `invalid_dpop_proof`, a missing or stale server nonce
  // `use_dpop_nonce` (§9); a proof for another key than the token's `cnf.jkt` is `invalid_token`.
  dpop_proof_invalid: 'invalid_dpop_proof',
  dpop_nonce_required: 'use_dpop_nonce',
  dpop_binding_mismatch: 'invalid_token',
  dpop_replay_unavailable: 'temporarily_unavailable',
}

const STATUS: Record<BearerErrorCode, 400 | 401 | 403 | 503> = {
  // RFC 6750 §3.1: a request with no token at all gets 401 with no error code; a malformed request 400.
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  server_error: 503,
  temporarily_unavailable: 503,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
}

/** The authentication scheme a request used, which decides the challenge of its error (RFC 9449 §7.1). */
export type AuthScheme = 'Bearer' | 'DPoP'

export class AuthError extends GatehouseError {
  override readonly name: string = 'AuthError'
  declare readonly code: AuthErrorCode
  declare readonly rfcError: BearerErrorCode
  declare readonly status: 400 | 401 | 403 | 503
  /**
   * The scheme of the `WWW-Authenticate` challenge: `DPoP` for a request that used it, and for a
   * DPoP-bound token presented as a bearer token (RFC 9449 §7.2); `Bearer` otherwise.
   */
  readonly scheme: AuthScheme

  constructor(
    code: AuthErrorCode,
    description: string,
    scheme: AuthScheme = 'Bearer',
    /** Response headers the answer needs, e.g. `DPoP-Nonce` with `use_dpop_nonce` (RFC 9449 §9). */
    headers?: Readonly<Record<string, string>>,
  ) {
    const rfcError = RFC_ERROR[code]
    super({
      code,
      description,
      rfcError,
      // A missing token is 401 (RFC 6750 §3.1), not 400.
      status: code === 'token_missing' ? 401 : STATUS[rfcError],
      ...(STATUS[rfcError] === 503 ? { retryAfterSeconds: VERIFICATION_RETRY_AFTER_SECONDS } : {}),
      ...(headers === undefined ? {} : { headers }),
    })
    this.scheme = scheme
  }

  /** The same error answered with another scheme's challenge. */
  withScheme(scheme: AuthScheme): AuthError {
    return scheme === this.scheme
      ? this
      : new AuthError(this.code, this.description, scheme, this.headers)
  }
}

export const isAuthError = (e: unknown): e is AuthError => e instanceof AuthError

/** What failed upstream; each is transient and answers 503 with `Retry-After`. */
export type UpstreamErrorCode =
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'upstream_circuit_open'
  | 'origin_unavailable'
  | 'origin_timeout'
  | 'origin_circuit_open'

/**
 * An upstream (the gateway's API, the origin behind the edge) did not answer in time or at all. Always
 * 503 `temporarily_unavailable` (RFC 6749 §4.1.2.1 / §5.2's word for "try again later") with
 * `Retry-After`: the circuit breaker's remaining open time, else 1 s.
 *
 * @example throw new UpstreamError('upstream_timeout', 'the upstream service did not answer in time')
 */
export class UpstreamError extends GatehouseError {
  override readonly name: string = 'UpstreamError'
  declare readonly code: UpstreamErrorCode

  constructor(code: UpstreamErrorCode, description: string, retryAfterSeconds = 1) {
    super({
      code,
      description,
      status: 503,
      rfcError: 'temporarily_unavailable',
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
    })
  }
}

/** One problem in the configuration: the variable or field path, and the rule it broke. */
export interface ConfigIssue {
  /** `GATEHOUSE_AUDIENCE`, `config.clients[1].redirectUris[0]`, `GATEHOUSE_CONFIG`. */
  field: string
  /** The rule, never the value: `must be an integer between 0 and 60`. */
  message: string
}

/**
 * A bad configuration: every problem at once, one `field: rule` line each, never a value (values may
 * be secrets). Thrown at start (Node exits non-zero before any side effect) and by
 * `gatehouse config check`; a Worker with a bad config answers 500 `server_error` and logs the lines.
 *
 * @example throw new ConfigError([{ field: 'PORT', message: 'must be an integer between 0 and 65535' }])
 */
export class ConfigError extends GatehouseError {
  override readonly name: string = 'ConfigError'
  declare readonly code: 'config_invalid'
  readonly issues: readonly ConfigIssue[]

  constructor(issues: readonly ConfigIssue[]) {
    super({
      code: 'config_invalid',
      description: 'the service is misconfigured',
      status: 500,
      rfcError: 'server_error',
    })
    this.issues = issues
    this.message = issues.map((i) => `${i.field}: ${i.message}`).join('\n')
  }

  /** The names of the offending variables or fields (safe to log). */
  get fields(): string[] {
    return this.issues.map((i) => i.field)
  }
}
