/**
 * The origin's HTTP server on Node (`@hono/node-server`), separated from `node.ts` (which owns the
 * process: env, signals, exit codes) so tests can start and stop it in-process.
 */
import type { Server } from 'node:http'
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net'
import { serve } from '@hono/node-server'
import type { Logger } from '../http/log.ts'
import { createNodeLogger } from './node-log-sink.ts'
import { createMetrics } from './node-metrics.ts'
import { createReadiness } from '../http/readiness.ts'
import { tracingFromConfig } from '../http/tracing.ts'
import { appFromConfig } from './app-from-config.ts'
import { preferredSignatureCheck } from './node-signature.ts'
import { loadNodeConfig } from './node-config.ts'
import { installParserRefusals } from './node-http.ts'
import { installFastPath } from './node-fast-path.ts'
import { verifyFastPathFor } from './node-verify-fast-path.ts'
import { nodeRequestHooks } from './node-request-hooks.ts'
import { NodeResponseWithId } from './node-response.ts'
import { registerAvailabilityMetrics } from './node-availability-metrics.ts'
import { clientIpBehind } from './node-client-ip.ts'
import { createNodeUpstreamFetch } from './node-upstream-fetch.ts'
import type { SnapshotSchedule } from '../revocation/index.ts'
import { loadNodeCedar } from '../policy/engine-node.ts'

export interface NodeServer {
  port: number
  /**
   * Drains (readiness 503, `Connection: close` on every answer), stops accepting after the drain
   * delay, lets in-flight requests finish and kept-alive connections end cleanly, then resolves
   * `true`; after `config.shutdownTimeoutSeconds` it drops what remains and resolves `false`.
   */
  shutdown(): Promise<boolean>
}

/**
 * Reads and checks the whole configuration first (`loadNodeConfig` throws one `ConfigError` listing
 * every problem, before anything is written to L2 or a port is opened), then builds the app and
 * listens on `PORT`.
 *
 * @example const server = await startNodeServer(process.env); await server.shutdown()
 */
export async function startNodeServer(
  env: Record<string, unknown>,
  options: {
    logger?: Logger
    /** Answer the common /token request outside the app (node-token-fast-path.ts). Default true. */
    tokenFastPath?: boolean
    /** Answer the common /verify L1 hit outside the app (node-verify-fast-path.ts). Default true. */
    verifyFastPath?: boolean
    /** More route groups, after the origin's own (bench/lib/http-node-origin.ts: `GET /noop`). */
    routes?: NonNullable<Parameters<typeof appFromConfig>[1]['routes']>
  } = {},
): Promise<NodeServer> {
  const nodeConfig = await loadNodeConfig(env)
  const logger = options.logger ?? createNodeLogger(nodeConfig.verification.logLevel)
  for (const warning of nodeConfig.warnings)
    logger.log({ level: 'warn', msg: warning.message, variable: warning.field })
  const metrics = createMetrics()
  // OpenTelemetry spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (tracing.ts).
  const tracing = tracingFromConfig(nodeConfig.verification.tracing, { role: 'origin', logger })
  // With GATEHOUSE_CONFIG the process mints tokens (the origin proper); without it, it only verifies
  // the tokens of the issuer the GATEHOUSE_* variables name.
  // The modules only some configurations use are imported here, at start (before `listening`, never
  // on a request path), and only when the configuration needs them: a verification-only process
  // holds no OAuth routes, admin API, tenancy, token fast path, L2 store client or revocation filter
  // (issue 15 item 6: ~4 MiB less RSS). An import that fails rejects like any other start failure.
  const minting = nodeConfig.oauth ? await importMintingCode() : undefined
  const origin =
    minting &&
    (await minting.createOriginRoutes(nodeConfig, {
      logger,
      metrics,
      instrumentStore: (store) => metrics.instrumentStore(store),
    }))
  const config = nodeConfig.verification
  let closing = false
  // Revocation: the origin's own /verify and gateway probe the same filter the edge does; the origin
  // also rebuilds the filter snapshot the edges load (DESIGN.md, "Revocation with a stated staleness
  // bound"). Off, with a warning, when there is no L2 store.
  const store =
    origin?.store ??
    (config.upstash && (await import('../store/upstash.ts')).createUpstashStore(config.upstash))
  const revocationCode = store ? await import('../revocation/index.ts') : undefined
  const backend = store ? (await import('../wasm/load-node.ts')).loadSbbfBackend() : undefined
  const revocation =
    store && revocationCode
      ? revocationCode.createRevocationSync({
          store,
          ...(backend ? { backend } : {}),
          syncSeconds: config.revocation.syncSeconds,
          syncTimeoutMs: config.revocation.syncTimeoutMs,
          maxStalenessSeconds: config.revocation.maxStalenessSeconds,
          policy: config.revocation.policy,
          logger,
        })
      : undefined
  if (!store) logger.log({ level: 'warn', msg: 'no L2 store: revocation checks are off' })
  let snapshots: SnapshotSchedule | undefined
  // Back-channel logout deliveries from the L2 queue (a restart resumes where the last one stopped).
  origin?.backchannel.start()
  if (origin && revocationCode) {
    snapshots = revocationCode.startSnapshotSchedule({
      intervalSeconds: config.revocation.snapshotSeconds,
      logger,
      builder: revocationCode.createSnapshotBuilder({
        store: origin.store,
        maxAccessTokenLifetimeSeconds: revocationCode.MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
        ...(backend ? { backend } : {}),
        logger,
      }),
    })
  }
  const checkSignature = preferredSignatureCheck()
  // GATEHOUSE_TENANCY: the registry's tenants beside the default one (docs/tenancy.md).
  const tenancy =
    origin && config.tenancy.enabled
      ? await (
          await import('./origin-tenancy.ts')
        ).createOriginTenancy(nodeConfig, origin, {
          logger,
          metrics,
          verification: config,
          ...(revocation ? { revocation } : {}),
          ...(checkSignature ? { checkSignature } : {}),
        })
      : undefined
  // Readiness: the store answers and we are not draining. A verify-only process has no store.
  const readiness = createReadiness({
    store: origin?.store ?? { ping: () => Promise.resolve(true) },
    draining: () => closing,
  })
  // The key schedule (docs/keys.md): every origin re-reads the key set each checkSeconds and, when a
  // step is due, performs it if it gets the lease.
  const keyTimer =
    origin &&
    setInterval(() => {
      void origin.keys.tick()
      tenancy?.tickKeys()
    }, origin.config.keyRotation.checkSeconds * 1000)
  keyTimer?.unref()
  registerAvailabilityMetrics(metrics.registry, {
    revocation: () => revocation?.status(),
    keys: origin ? () => origin.keys.status() : undefined,
  })
  // The gateway's upstream calls: undici's `request`, not `fetch` (node-upstream-fetch.ts).
  const upstream = config.upstreamUrl === undefined ? undefined : createNodeUpstreamFetch()
  const app = await appFromConfig(config, {
    role: 'origin',
    logger,
    ...(upstream ? { upstreamFetch: upstream.fetch } : {}),
    // The origin verifies its own tokens with every published key, as they rotate.
    ...(origin && minting && nodeConfig.verification.keySource === undefined
      ? { keySet: minting.ownKeySet(origin.keys) }
      : {}),
    ...(checkSignature ? { checkSignature } : {}),
    // The gateway's X-Forwarded-For: the client behind GATEHOUSE_TRUSTED_PROXY_HOPS of our proxies.
    clientIp: clientIpBehind(nodeConfig.trustedProxyHops),
    // Request guard, the revocation sync's kick and metrics run around the app's fetch, with the
    // request id and access log (request-observer.ts), not as middleware layers (issue 15).
    requestHooks: nodeRequestHooks(metrics, revocation),
    middleware: [
      ...(tracing ? [tracing.middleware] : []),
      ...(tenancy ? [tenancy.middleware] : []),
    ],
    ...(tenancy?.verifier ? { verifier: tenancy.verifier } : {}),
    ...(store && revocation ? { revocation: { sync: revocation, store } } : {}),
    ...(store ? { dpopStore: store } : {}),
    policy: { engine: loadNodeCedar, ...(store ? { store } : {}) },
    routes: [
      { path: '/', app: readiness },
      { path: '/', app: metrics.routes },
      ...(origin && minting
        ? [
            { path: '/', app: origin.routes },
            {
              path: '/',
              app: minting.createAdminRoutes({
                issuer: origin.config.issuer,
                keys: minting.ownKeySet(origin.keys),
                revocation: origin.revocation,
                sessions: origin.oauth.sessions,
              }),
            },
          ]
        : []),
      ...(tenancy?.routes ?? []),
      ...(options.routes ?? []),
    ],
  })

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.port,
        ...(config.host === undefined ? {} : { hostname: config.host }),
        // Writes X-Request-Id in the response's own header object (node-response.ts).
        serverOptions: { ServerResponse: NodeResponseWithId },
      },
      () => resolve(s as Server),
    ) as Server
    s.once('error', reject)
  })
  // The common /token request without the app's generic request path (node-token-fast-path.ts); off
  // when tracing or tenants wrap every request.
  const fast =
    options.tokenFastPath !== false &&
    origin &&
    minting &&
    !tracing &&
    !tenancy &&
    minting.tokenFastPathFor(app, {
      deps: { oauth: origin.oauth, logger, metrics },
      path: `${new URL(origin.oauth.issuer).pathname.replace(/\/+$/, '')}${minting.tokenPath}`,
      logger,
      ...(revocation ? { beforeRequest: () => revocation.maybeSync() } : {}),
      after: metrics.record,
    })
  // The paths actually in front of the app, for the `listening` line (docs/configuration.md).
  const fastPaths: ('token' | 'verify')[] = []
  if (fast && installFastPath(server, fast)) fastPaths.push('token')
  // The common /verify L1 hit the same way (node-verify-fast-path.ts); off when anything else runs on
  // the route (tracing, tenants) or with `verifyFastPath: false`.
  const verifyFast =
    options.verifyFastPath !== false &&
    !tracing &&
    !tenancy &&
    verifyFastPathFor(app, {
      path: '/verify',
      logger,
      ...(revocation ? { beforeRequest: () => revocation.maybeSync() } : {}),
      after: metrics.record,
    })
  if (verifyFast && installFastPath(server, verifyFast)) fastPaths.push('verify')
  installParserRefusals(server, logger)
  // Once closing, answers say `Connection: close` so keep-alive clients leave after their request.
  server.prependListener('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close')
  })
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const port = (server.address() as AddressInfo).port
  logger.log({ level: 'info', msg: 'listening', port, role: 'origin', fastPaths })

  return {
    port,
    shutdown() {
      // From here /readyz answers 503 `draining` and every response says `Connection: close`.
      closing = true
      if (keyTimer) clearInterval(keyTimer)
      const stopSnapshots = snapshots?.stop()
      const stopBackchannel = origin?.backchannel.stop()
      return new Promise<boolean>((resolve) => {
        const stopAccepting = () => {
          const lastRead = new Map<Socket, number>()
          closeIdle(sockets, lastRead) // the first sweep only takes note
          const sweep = setInterval(() => closeIdle(sockets, lastRead), IDLE_GRACE_MS)
          const forceTimer = setTimeout(() => {
            logger.log({ level: 'warn', msg: 'shutdown timed out; dropping connections' })
            clearInterval(sweep)
            server.closeAllConnections()
            resolve(false)
          }, config.shutdownTimeoutSeconds * 1000)
          // net.Server's close, not http.Server's: that one also cuts every idle keep-alive
          // connection at once, and a pooled client sending its next request on one at that instant
          // gets a reset. Here a kept-alive connection ends cleanly: its next request is answered
          // with `Connection: close`, or, once it has been idle for a whole sweep, it is closed.
          NetServer.prototype.close.call(server, () => {
            clearTimeout(forceTimer)
            clearInterval(sweep)
            // A snapshot build in progress finishes (it is one atomic write) before we report done;
            // the last spans are sent.
            void Promise.all([
              stopSnapshots,
              stopBackchannel,
              tracing?.flush(),
              upstream?.close(),
            ]).finally(() => resolve(true))
          })
          logger.log({ level: 'info', msg: 'stopped accepting' })
        }
        // Keep accepting for the drain delay: load balancers that have not yet seen /readyz fail (or
        // the endpoint removal) still send here, and `Connection: close` on each answer moves
        // keep-alive clients to other pods. 0 (the default) stops accepting at once.
        if (config.drainDelaySeconds === 0) stopAccepting()
        else {
          logger.log({ level: 'info', msg: 'draining', seconds: config.drainDelaySeconds })
          setTimeout(stopAccepting, config.drainDelaySeconds * 1000)
        }
      })
    },
  }
}

/**
 * What a minting origin (GATEHOUSE_CONFIG set) needs beyond a verifier: the OAuth routes and their
 * store, the admin API, its own key set as a verifier key set, and the /token fast path.
 */
async function importMintingCode() {
  const [origin, admin, ownTokens, endpoints, fastPath] = await Promise.all([
    import('./origin.ts'),
    import('../http/admin-routes.ts'),
    import('../core/oauth/own-tokens.ts'),
    import('../core/oauth/endpoints.ts'),
    import('./node-token-fast-path.ts'),
  ])
  return {
    createOriginRoutes: origin.createOriginRoutes,
    createAdminRoutes: admin.createAdminRoutes,
    ownKeySet: ownTokens.ownKeySet,
    tokenPath: endpoints.ENDPOINTS.token,
    tokenFastPathFor: fastPath.tokenFastPathFor,
  }
}

/** How long a kept-alive connection may sit idle once the listener is closed. */
const IDLE_GRACE_MS = 1000

/**
 * Closes the connections that carried no request and read no byte since the last sweep: idle for at
 * least `IDLE_GRACE_MS`, so not a pooled connection a busy client is about to reuse (those are
 * answered with `Connection: close`). Only a client that sends after a whole idle second, in the
 * instant our FIN is on its way, can still meet the close — the race every keep-alive timeout has.
 * A connection is busy while Node has a response attached to it (`_httpMessage`, the field Node's own
 * `closeIdleConnections` checks).
 */
function closeIdle(sockets: Set<Socket>, lastRead: Map<Socket, number>): void {
  for (const socket of sockets) {
    const busy = (socket as Socket & { _httpMessage?: unknown })._httpMessage != null
    if (!busy && lastRead.get(socket) === socket.bytesRead) socket.destroy()
    else lastRead.set(socket, socket.bytesRead)
  }
}
