/**
 * `requireAuth`: Hono middleware that admits only requests with a valid access token (bearer, or
 * DPoP-bound with its proof, RFC 9449 §7), for our app and for anyone's Worker
 * (`import { requireAuth } from '@gatehouse/auth/middleware'`). It answers auth failures itself
 * with RFC 6750 responses, so it needs no particular `onError` in the host app.
 */
import type { MiddlewareHandler } from 'hono'
import { AuthError } from '../core/errors.ts'
import type { VerifiedToken } from '../core/types.ts'
import { DEFAULT_REALM, authErrorResponse } from './auth-response.ts'
import { authenticateNow } from './authenticate.ts'
import { buildVerifier } from './build-verifier.ts'
import { createDpopGuard, dpopNonceFor } from './dpop-guard.ts'
import {
  checkRequireAuthOptions,
  type RequireAuthJwksOptions,
  type RequireAuthJwksUrlOptions,
  type RequireAuthOptions,
  type RequireAuthVerifierOptions,
} from './require-auth-options.ts'
import type { TokenVerifier } from './types.ts'

export { authenticate } from './authenticate.ts'
export { createDpopGuard, type DpopGuard, type DpopGuardOptions } from './dpop-guard.ts'
export type {
  RequireAuthJwksOptions,
  RequireAuthJwksUrlOptions,
  RequireAuthOptions,
  RequireAuthVerifierOptions,
} from './require-auth-options.ts'
import { setErrorCode } from './request-record.ts'

/** Variables `requireAuth` sets: `c.get('auth')` is the verified token. */
export interface RequireAuthEnv {
  Variables: { auth: VerifiedToken; errorCode: string }
}

// `c.get('auth')` is typed in every Hono app that imports this module, without `new Hono<Env>()`
// (the way Hono's own jwt middleware types `jwtPayload`). It is set only behind `requireAuth`.
declare module 'hono' {
  interface ContextVariableMap {
    auth: VerifiedToken
  }
}

/**
 * Middleware admitting only requests with a valid access token (header only: the body belongs to the
 * route). Options are validated here, once; a bad option throws a `TypeError` naming it. Given
 * issuer/audience/keys, the verifier (with an L1 cache) is built on the first request and reused.
 *
 * @example
 * app.use('/orders/*', requireAuth({ issuer, audience, jwksUrl, scopes: ['orders:read'] }))
 * app.get('/orders/mine', (c) => c.json({ owner: c.get('auth').claims.sub }))
 */
export function requireAuth(options: RequireAuthOptions): MiddlewareHandler<RequireAuthEnv> {
  const source = checkRequireAuthOptions(options)
  const realm = options.realm ?? DEFAULT_REALM
  const required = options.scopes ?? []
  const extraAudience = source === 'verifier' ? options.audience : undefined
  let verifier: TokenVerifier | undefined =
    source === 'verifier' ? (options as RequireAuthVerifierOptions).verifier : undefined
  const leewaySeconds = 'clockLeewaySeconds' in options ? options.clockLeewaySeconds : undefined
  const dpop =
    options.dpop ??
    createDpopGuard(leewaySeconds === undefined ? {} : { clockLeewaySeconds: leewaySeconds })

  // Built lazily and kept once ready. Two first requests racing may both build; the loser's copy is
  // dropped. No in-flight promise is shared between requests (DESIGN.md, L1 and L2).
  const getVerifier = async (): Promise<TokenVerifier> => {
    if (verifier !== undefined) return verifier
    const o = options as Partial<RequireAuthJwksUrlOptions> & Partial<RequireAuthJwksOptions>
    const built = await buildVerifier({
      issuer: o.issuer as string,
      audience: o.audience as string,
      keySource:
        source === 'jwksUrl'
          ? { kind: 'url', url: o.jwksUrl as string }
          : { kind: 'inline', jwks: o.jwks as { keys: object[] } },
      ...(o.clockLeewaySeconds === undefined ? {} : { clockLeewaySeconds: o.clockLeewaySeconds }),
      ...(source === 'jwksUrl' && o.fetch !== undefined ? { fetch: o.fetch } : {}),
    })
    verifier ??= built
    return verifier
  }

  return async function requireAuthMiddleware(c, next) {
    let verified: VerifiedToken
    try {
      // `authenticateNow`: the same checks as `authenticate`, without a promise for a bearer token
      // the L1 holds (round 7, issue 15: the gateway's per-request promise turns).
      const answer = authenticateNow(c.req.raw, verifier ?? (await getVerifier()), {
        allowFormBody: false,
        scopes: required,
        dpop,
        ...(extraAudience === undefined ? {} : { audience: extraAudience }),
      })
      verified = answer instanceof Promise ? await answer : answer
    } catch (err) {
      if (!(err instanceof AuthError)) throw err
      setErrorCode(c, err.code)
      return authErrorResponse(err, realm)
    }
    c.set('auth', verified)
    const pending = dpopNonceFor(dpop, verified)
    const nonce = pending === undefined ? undefined : await pending
    await next()
    // RFC 9449 §8.2, §9: the current nonce with every admitted DPoP request, so the client has it
    // before the one it used expires (and is spared a use_dpop_nonce round trip).
    if (nonce !== undefined) c.header('DPoP-Nonce', nonce)
    return undefined
  }
}
