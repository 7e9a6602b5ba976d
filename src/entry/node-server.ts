/**
 * The origin's HTTP server on Node (`@hono/node-server`), separated from `node.ts` (which owns the
 * process: env, signals, exit codes) so tests can start and stop it in-process.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { parseLogLevel, parseVerificationConfig, type VerificationConfig } from '../core/config.ts'
import { createJsonLogger, type Logger } from '../http/log.ts'
import { appFromConfig } from './app-from-config.ts'
import { nodeSignatureCheck } from './node-signature.ts'
import { createOriginRoutes, type Origin } from './origin.ts'

export interface NodeServer {
  port: number
  /**
   * Stops accepting connections, lets in-flight requests finish, then resolves `true`; after
   * `config.shutdownTimeoutSeconds` it drops the remaining connections and resolves `false`.
   */
  shutdown(): Promise<boolean>
}

/**
 * Parses `env` (throws `ConfigError` naming the variable), builds the app and listens on `PORT`.
 *
 * @example const server = await startNodeServer(process.env); await server.shutdown()
 */
export async function startNodeServer(
  env: Record<string, unknown>,
  options: { logger?: Logger } = {},
): Promise<NodeServer> {
  const logger = options.logger ?? createJsonLogger({ level: parseLogLevel(env) })
  // With GATEHOUSE_CONFIG the process mints tokens (the origin proper); without it, it only verifies
  // the tokens of the issuer the GATEHOUSE_* variables name.
  const origin = isSet(env.GATEHOUSE_CONFIG) ? await createOriginRoutes(env, { logger }) : undefined
  const config: VerificationConfig = parseVerificationConfig(
    origin ? originVerificationEnv(env, origin) : env,
  )
  const app = await appFromConfig(config, {
    role: 'origin',
    logger,
    checkSignature: nodeSignatureCheck,
    ...(origin ? { routes: [{ path: '/', app: origin.routes }] } : {}),
  })

  let closing = false
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.port,
        ...(config.host === undefined ? {} : { hostname: config.host }),
      },
      () => resolve(s as Server),
    ) as Server
    s.once('error', reject)
  })
  // Once closing, answers say `Connection: close` so keep-alive clients leave after their request.
  server.prependListener('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close')
  })
  const port = (server.address() as AddressInfo).port
  logger.log({ level: 'info', msg: 'listening', port, role: 'origin' })

  return {
    port,
    shutdown() {
      closing = true
      return new Promise<boolean>((resolve) => {
        const forceTimer = setTimeout(() => {
          logger.log({ level: 'warn', msg: 'shutdown timed out; dropping connections' })
          server.closeAllConnections()
          resolve(false)
        }, config.shutdownTimeoutSeconds * 1000)
        // Connections that finish a request after close() began sit idle in keep-alive; sweep them.
        const sweep = setInterval(() => server.closeIdleConnections(), 50)
        server.close(() => {
          clearTimeout(forceTimer)
          clearInterval(sweep)
          resolve(true)
        })
        server.closeIdleConnections()
      })
    },
  }
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null && v !== ''

/**
 * The origin verifies its own tokens on `/verify`, the gateway and `/userinfo`: its issuer and its
 * published public keys, unless the operator named another key source explicitly.
 */
function originVerificationEnv(
  env: Record<string, unknown>,
  origin: Origin,
): Record<string, unknown> {
  const explicitKeys = isSet(env.GATEHOUSE_JWKS) || isSet(env.GATEHOUSE_JWKS_URL)
  return {
    ...env,
    GATEHOUSE_ISSUER: origin.config.issuer,
    ...(explicitKeys ? {} : { GATEHOUSE_JWKS: JSON.stringify(origin.publicJwks) }),
  }
}
