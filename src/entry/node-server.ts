/**
 * The origin's HTTP server on Node (`@hono/node-server`), separated from `node.ts` (which owns the
 * process: env, signals, exit codes) so tests can start and stop it in-process.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { parseVerificationConfig, type VerificationConfig } from '../core/config.ts'
import { createJsonLogger, type Logger } from '../http/log.ts'
import { appFromConfig } from './app-from-config.ts'
import { nodeSignatureCheck } from './node-signature.ts'

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
  const config: VerificationConfig = parseVerificationConfig(env)
  const logger = options.logger ?? createJsonLogger({ level: config.logLevel })
  const app = await appFromConfig(config, {
    role: 'origin',
    logger,
    checkSignature: nodeSignatureCheck,
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
