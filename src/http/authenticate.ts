/**
 * One request's authentication, shared by `/verify`, the gateway and `requireAuth`: the token from
 * the request (bearer.ts), the verifier (with its L1 cache), then for a DPoP-scheme request the proof
 * (dpop-guard.ts), and the route's audience and scopes. Every failure is an `AuthError` whose
 * challenge follows the scheme used (RFC 6750 §3, RFC 9449 §7.1).
 */
import { AuthError } from '../core/errors.ts'
import type { VerifiedToken } from '../core/types.ts'
import { extractAccessToken, extractAccessTokenNow } from './bearer.ts'
import { checkBoundProof, refuseBoundBearer, type DpopTarget } from '../core/dpop-binding.ts'
import { nonceCheckOf, withNonceHeader, type DpopGuard } from './dpop-guard.ts'
import { assertAudience, assertScopes } from './scopes.ts'
import type { TokenVerifier, VerificationRequest } from './types.ts'

export interface AuthenticateOptions {
  /** Accept a form-encoded `access_token` (RFC 6750 §2.2; `/verify`'s POST). */
  allowFormBody: boolean
  scopes?: readonly string[]
  /** An audience the token must carry on top of what the verifier checks. */
  audience?: string
  /** Checks DPoP proofs; without it a DPoP-scheme request is refused. */
  dpop?: DpopGuard
  /** The request the proof must match. Default: this request's method and URL. */
  dpopTarget?: DpopTarget
  /** Passed to the verifier (its background syncs on Workers). */
  verification?: VerificationRequest
}

/**
 * Verifies the request's token and returns it, or throws an `AuthError`.
 *
 * @example const verified = await authenticate(c.req.raw, verifier, { allowFormBody: false, dpop })
 */
export async function authenticate(
  request: Request,
  verifier: TokenVerifier,
  options: AuthenticateOptions,
): Promise<VerifiedToken> {
  const { token, scheme } = await extractAccessToken(request, options)
  if (scheme === 'DPoP') return authenticateDpop(request, verifier, token, options)
  return bearerChecks(await verifier.verify(token, options.verification), options)
}

/**
 * `authenticate` without a promise where nothing has to be waited for: a bearer token from the
 * header (no body to read) that the verifier answers at once (an L1 hit, `verifyNow`). The same
 * checks in the same order, the same result or throw; otherwise `authenticate`'s promise.
 *
 * @example const verified = authenticateNow(c.req.raw, verifier, { allowFormBody: false })
 */
export function authenticateNow(
  request: Request,
  verifier: TokenVerifier,
  options: AuthenticateOptions,
): VerifiedToken | Promise<VerifiedToken> {
  if (verifier.verifyNow === undefined) return authenticate(request, verifier, options)
  const presented = extractAccessTokenNow(request, options, verifier.isCached)
  if (presented === undefined || presented.scheme === 'DPoP')
    return authenticate(request, verifier, options)
  const verified = verifier.verifyNow(presented.token, options.verification)
  return verified instanceof Promise
    ? verified.then((v) => bearerChecks(v, options))
    : bearerChecks(verified, options)
}

/** What a bearer presentation must pass after verification: no DPoP binding, audience, scopes. */
function bearerChecks(verified: VerifiedToken, options: AuthenticateOptions): VerifiedToken {
  refuseBoundBearer(verified.claims)
  if (options.audience !== undefined) assertAudience(verified, options.audience)
  if (options.scopes !== undefined) assertScopes(verified, options.scopes)
  return verified
}

async function authenticateDpop(
  request: Request,
  verifier: TokenVerifier,
  token: string,
  options: AuthenticateOptions,
): Promise<VerifiedToken> {
  try {
    if (options.dpop === undefined)
      throw new AuthError('dpop_proof_invalid', 'DPoP is not accepted here', 'DPoP')
    // The token first: an L1 hit costs well under a microsecond, the proof a signature check.
    const verified = await verifier.verify(token, options.verification)
    const target = options.dpopTarget ?? { method: request.method, uris: [request.url] }
    const proof = await checkBoundProof(
      options.dpop.checker,
      request.headers,
      target,
      token,
      verified.claims,
      nonceCheckOf(options.dpop),
    )
    if (options.audience !== undefined) assertAudience(verified, options.audience)
    if (options.scopes !== undefined) assertScopes(verified, options.scopes)
    // Last: a request refused for any other reason has not spent its proof (RFC 9449 §11.1).
    await options.dpop.replay.claim(proof.jkt, proof.jti)
    return verified
  } catch (error) {
    // Whatever failed, the client used DPoP: the challenge is a DPoP one (RFC 9449 §7.1), and a
    // missing or stale nonce comes with the one to use (§9).
    if (!(error instanceof AuthError)) throw error
    if (options.dpop === undefined) throw error.withScheme('DPoP')
    throw await withNonceHeader(options.dpop, error.withScheme('DPoP'))
  }
}
