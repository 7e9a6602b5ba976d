/**
 * `@gatehouse/auth/middleware`: what a Worker (or any Hono app) needs to accept Gatehouse access
 * tokens, and nothing else, so it bundles small (test/package records the size; no zod, no app).
 *
 * @example
 * import { Hono } from 'hono'
 * import { requireAuth } from '@gatehouse/auth/middleware'
 * const app = new Hono()
 * app.use('/orders/*', requireAuth({ issuer, audience, jwksUrl, scopes: ['orders:read'] }))
 * app.get('/orders/mine', (c) => c.json({ owner: c.get('auth').claims.sub }))
 */
export { requireAuth, authenticate } from './http/require-auth.ts'
export type {
  RequireAuthEnv,
  RequireAuthJwksOptions,
  RequireAuthJwksUrlOptions,
  RequireAuthOptions,
  RequireAuthVerifierOptions,
} from './http/require-auth.ts'
export { createDpopGuard } from './http/dpop-guard.ts'
export type { DpopGuard, DpopGuardOptions } from './http/dpop-guard.ts'
export { buildVerifier } from './http/build-verifier.ts'
export type { BuildVerifierOptions } from './http/build-verifier.ts'
export type { TokenVerifier } from './http/types.ts'
export { AuthError } from './core/errors.ts'
export type { AuthErrorCode } from './core/errors.ts'
export type { AccessTokenClaims, VerifiedToken } from './core/types.ts'
