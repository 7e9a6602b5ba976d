import type { VerifiedToken } from '../core/types.ts'
import type { AccessTokenVerifier } from '../core/verify.ts'
import type { TokenCache } from './token-cache.ts'

/**
 * A verifier that can answer without a promise: `verifyNow` returns an L1 hit as it is (or throws,
 * where `verify` would reject) and a promise otherwise; `verify` is `verifyNow` as a promise. A route
 * that gets a result, not a promise, can answer synchronously (issue 15: on an L1 hit the promise
 * turns were a large part of `/verify`'s cost).
 */
export interface InlineVerifier extends AccessTokenVerifier {
  verifyNow(token: string): VerifiedToken | Promise<VerifiedToken>
  /**
   * Whether `token`, this exact string, is an L1 entry: a token that verified (so a well-formed
   * compact JWS) and has not expired. No side effects. Lets a route skip syntax checks that every
   * verified token passes (bearer.ts: the `b64token` shape) before `verifyNow` answers it.
   */
  isCached?: (token: string) => boolean
}

/** Which verifier each cache serves: a cache filled under one configuration must not answer another. */
const owners = new WeakMap<TokenCache, AccessTokenVerifier>()

/**
 * Wraps a verifier with the L1 token cache: a hit returns the stored result of an earlier successful
 * verification of the identical token string (never at or past its `exp`); a miss runs the full
 * verification and stores the result. Failures are never cached, so a rejected token is re-verified
 * (and rejected) every time. There is no shared in-flight promise: two concurrent requests with the
 * same uncached token both verify it (DESIGN.md: nothing in L1 is shared across Worker requests as an
 * in-flight promise: in workerd, I/O started by one request cannot be awaited by another).
 *
 * A cache can back only one verifier, because a token accepted under one issuer/audience/key set must
 * not be served to a verifier configured differently; binding a second verifier throws.
 *
 * @example
 * const verifier = createCachedVerifier(createAccessTokenVerifier(options), createTokenCache())
 * const { claims } = await verifier.verify(token)
 * const now = verifier.verifyNow(token) // the claims themselves on a hit, else a promise
 */
export function createCachedVerifier(
  verifier: AccessTokenVerifier,
  cache: TokenCache,
): InlineVerifier {
  const owner = owners.get(cache)
  if (owner !== undefined && owner !== verifier) {
    throw new Error('createCachedVerifier: this TokenCache already backs another verifier')
  }
  owners.set(cache, verifier)

  const verifyNow = (token: string): VerifiedToken | Promise<VerifiedToken> => {
    const hit = cache.get(token)
    if (hit !== undefined) return hit
    return verifier.verify(token).then((verified) => {
      cache.set(token, verified)
      return verified
    })
  }
  return {
    verifyNow,
    isCached: (token) => cache.has(token),
    async verify(token: string): Promise<VerifiedToken> {
      return verifyNow(token)
    },
  }
}
