/**
 * The public API of the `gatehouse` package: the app factory for both runtimes, the `requireAuth`
 * middleware for anyone's Hono app, and the verifier builder.
 *
 * @example
 * import { requireAuth } from 'gatehouse'
 * app.use('/api/*', requireAuth({ issuer, audience, jwksUrl, scopes: ['read'] }))
 */
export { createApp } from './http/app.ts'
export { requireAuth, authenticate } from './http/require-auth.ts'
export type { RequireAuthOptions, RequireAuthEnv } from './http/require-auth.ts'
export { createDpopGuard } from './http/dpop-guard.ts'
export type { DpopGuard, DpopGuardOptions } from './http/dpop-guard.ts'
export { buildVerifier } from './http/build-verifier.ts'
export type { BuildVerifierOptions } from './http/build-verifier.ts'
export { authErrorResponse, bearerChallenge } from './http/auth-response.ts'
export { createJsonLogger, silentLogger } from './http/log.ts'
export type { Logger, LogRecord } from './http/log.ts'
export type { AppDeps, GatewayOptions, GatehouseEnv, TokenVerifier } from './http/types.ts'
export { parseVerificationConfig, ConfigError } from './core/config.ts'
export type { VerificationConfig } from './core/config.ts'
export { AuthError } from './core/errors.ts'
export type { AccessTokenClaims, VerifiedToken } from './core/types.ts'
