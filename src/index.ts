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
// Everything a token check needs (requireAuth, buildVerifier, AuthError, the token types).
export * from './middleware.ts'
export { createApp } from './http/app.ts'
export { authErrorResponse, bearerChallenge } from './http/auth-response.ts'
export { createJsonLogger, silentLogger } from './http/log.ts'
export type { Logger, LogRecord } from './http/log.ts'
export type { AppDeps, GatewayOptions, GatehouseEnv } from './http/types.ts'
export { parseVerificationConfig, ConfigError } from './core/config.ts'
export type { VerificationConfig } from './core/config.ts'
