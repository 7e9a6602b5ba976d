/**
 * Builds the app from a parsed `VerificationConfig`: the verifier (key set, core verifier, L1 cache)
 * and `createApp` deps. Shared by the Worker and the Node entry so both serve the same thing.
 */
import type { Hono } from 'hono'
import type { VerificationConfig } from '../core/config.ts'
import type { SignatureCheck } from '../core/signature.ts'
import type { Clock } from '../core/types.ts'
import { createApp } from '../http/app.ts'
import { buildVerifier } from '../http/build-verifier.ts'
import type { Logger } from '../http/log.ts'
import type { AppDeps, GatehouseEnv } from '../http/types.ts'

export interface RuntimeOptions {
  role: AppDeps['role']
  logger: Logger
  /** Node passes `nodeSignatureCheck`; the Worker uses the core's WebCrypto default. */
  checkSignature?: SignatureCheck
  /** Used for the remote JWKS and for the gateway upstream. Default `globalThis.fetch`. */
  fetch?: typeof fetch
  now?: Clock
  /** Extra route groups, e.g. the origin's OAuth endpoints. */
  routes?: AppDeps['routes']
  extend?: AppDeps['extend']
}

/**
 * @example
 * const app = await appFromConfig(parseVerificationConfig(env), { role: 'edge', logger })
 */
export async function appFromConfig(
  config: VerificationConfig,
  runtime: RuntimeOptions,
): Promise<Hono<GatehouseEnv>> {
  const verifier = await buildVerifier({
    issuer: config.issuer,
    audience: config.audience,
    keySource: config.keySource,
    clockLeewaySeconds: config.clockLeewaySeconds,
    l1MaxEntries: config.l1MaxEntries,
    ...(runtime.checkSignature === undefined ? {} : { checkSignature: runtime.checkSignature }),
    ...(runtime.fetch === undefined ? {} : { fetch: runtime.fetch }),
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
    ...(config.jwksRefreshSeconds === undefined
      ? {}
      : { jwksRefreshSeconds: config.jwksRefreshSeconds }),
    ...(config.jwksTimeoutMs === undefined ? {} : { jwksTimeoutMs: config.jwksTimeoutMs }),
  })
  return createApp({
    role: runtime.role,
    verifier,
    logger: runtime.logger,
    ...(runtime.fetch === undefined ? {} : { fetch: runtime.fetch }),
    ...(runtime.routes === undefined ? {} : { routes: runtime.routes }),
    ...(runtime.extend === undefined ? {} : { extend: runtime.extend }),
    ...(config.upstreamUrl === undefined
      ? {}
      : {
          gateway: {
            url: config.upstreamUrl,
            scopes: config.upstreamScopes,
            forwardAuthorization: config.forwardAuthorization,
            timeoutMs: config.upstreamTimeoutMs,
          },
        }),
  })
}
