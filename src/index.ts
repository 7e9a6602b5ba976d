/**
 * `@gatehouse/auth`: the app factory for both runtimes (`createApp`), the `requireAuth` middleware,
 * the verifier builder and the verification config parser. A Worker that only checks tokens imports
 * `@gatehouse/auth/middleware` instead (a far smaller bundle); a browser app `@gatehouse/auth/client`.
 *
 * @example
 * import { createApp, buildVerifier, silentLogger } from '@gatehouse/auth'
 * const verifier = await buildVerifier({ issuer, audience, keySource: { kind: 'url', url: jwksUrl } })
 * export default createApp({ role: 'edge', verifier, logger: silentLogger })
 */
export { createApp } from './http/app.ts'
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
export { authErrorResponse, bearerChallenge } from './http/auth-response.ts'
export { createJsonLogger, silentLogger } from './http/log.ts'
export type { Logger, LogRecord } from './http/log.ts'
export type { AppDeps, GatewayOptions, GatehouseEnv, TokenVerifier } from './http/types.ts'
export { parseVerificationConfig, ConfigError } from './core/config.ts'
export type { VerificationConfig } from './core/config.ts'
export { AuthError } from './core/errors.ts'
export type { AccessTokenClaims, VerifiedToken } from './core/types.ts'
