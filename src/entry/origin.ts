/**
 * Builds the origin's OAuth route group from its parsed configuration (node-config.ts; given the
 * environment instead, it parses it first, and a bad one throws the `ConfigError` before anything is
 * written). In named steps: pick the store (the memory store, with a warning, only outside
 * production), build the managed key set (docs/keys.md: the key set in L2, seeded from the config's
 * keys when L2 has none), start it (the first write to L2), and build the Hono route group for
 * `createApp({ routes })`.
 *
 * @example
 * const origin = await createOriginRoutes(await loadNodeConfig(process.env), { logger })
 * const app = createApp({ role: 'origin', verifier, logger, routes: [{ path: '/', app: origin.routes }] })
 */
import type { Hono } from 'hono'
import { ConfigError } from '../core/errors.ts'
import type { OAuthConfig } from '../core/oauth/config.ts'
import {
  createBackchannelWorker,
  type BackchannelWorker,
} from '../core/oauth/backchannel-worker.ts'
import { createOAuthContext, type OAuthContext } from '../core/oauth/context.ts'
import { discoveryMetadata } from '../core/oauth/discovery.ts'
import { createOriginKeySet } from '../core/oauth/jwks-publication.ts'
import type { KeyLifecycle } from '../core/oauth/key-lifecycle.ts'
import type { PasswordHasher } from '../core/oauth/password.ts'
import type { Clock } from '../core/types.ts'
import type { Logger } from '../http/log.ts'
import { createOAuthRoutes, type OAuthRouteDeps } from '../http/oauth/routes.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { createMemoryStore } from '../store/memory.ts'
import type { Store } from '../store/types.ts'
import { createUpstashStore } from '../store/upstash.ts'
import { createOAuthRevoker, type RevocationWriter } from '../revocation/index.ts'
import { clientIpBehind } from './node-client-ip.ts'
import { preferredOAuthCrypto } from './node-crypto.ts'
import { loadNodeConfig, type NodeConfig } from './node-config.ts'
import { createScryptHasher } from './password.ts'

// Kept importable from here (origin-tenancy.ts); it lives apart so a verifier need not load this file.
export { clientIpBehind }

export interface OriginOptions {
  logger?: Logger
  /** Default: the Upstash store from the env, else (outside production) the memory store. */
  store?: Store
  /** Default: scrypt with the OWASP parameters. */
  passwords?: PasswordHasher
  clock?: Clock
  /** Default: `fs.readFile(path, 'utf8')`. */
  readConfigFile?: (path: string) => Promise<string>
  /** Wraps the chosen store, e.g. to count its errors (`metrics.instrumentStore`). */
  instrumentStore?: (store: Store) => Store
  /** Token and login counters for /metrics. */
  metrics?: OAuthRouteDeps['metrics']
}

export interface Origin {
  /** Mount at `/`: `createApp({ routes: [{ path: '/', app: origin.routes }] })`. */
  routes: Hono<GatehouseEnv>
  oauth: OAuthContext
  config: OAuthConfig
  store: Store
  /** The managed key set: tick it every `config.keyRotation.checkSeconds` (node-server.ts). */
  keys: KeyLifecycle
  /** Revocation records and events, shared with the edge (src/revocation/records.ts). */
  revocation: RevocationWriter
  /**
   * Delivers queued back-channel logout tokens; not started here (the server starts it and stops it
   * on shutdown; in-process tests may run rounds with `runOnce`).
   */
  backchannel: BackchannelWorker
}

type Env = Record<string, unknown>

const isNodeConfig = (v: Env | NodeConfig): v is NodeConfig =>
  typeof (v as NodeConfig).verification === 'object' && typeof v.production === 'boolean'

export async function createOriginRoutes(
  source: Env | NodeConfig,
  options: OriginOptions = {},
): Promise<Origin> {
  const config = isNodeConfig(source)
    ? source
    : await loadNodeConfig(source, {
        ...(options.readConfigFile ? { readFile: options.readConfigFile } : {}),
        storeProvided: options.store !== undefined,
      })
  const oauthConfig = config.oauth
  if (!oauthConfig)
    throw new ConfigError([
      { field: 'GATEHOUSE_CONFIG', message: 'is required: path of the JSON config' },
    ])
  const log = options.logger?.log.bind(options.logger) ?? (() => {})

  const store = originStore(config, options, log)
  // The key set lives in L2 (docs/keys.md): built here, started once the context exists.
  const keys = await createOriginKeySet({
    config: oauthConfig,
    store,
    production: config.production,
    log,
    discovery: () => discoveryMetadata(oauth),
    ...(options.clock ? { clock: options.clock } : {}),
  })

  // One record layout for the origin's /revoke, /logout, /introspect and the edge filter.
  const revoker = createOAuthRevoker({ store, ...(options.clock ? { now: options.clock } : {}) })
  // eslint-disable-next-line prefer-const -- read lazily by the key set's discovery callback
  let oauth: OAuthContext
  oauth = await createOAuthContext({
    config: oauthConfig,
    store,
    keys,
    revoker,
    passwords: options.passwords ?? createScryptHasher(),
    ...(options.clock ? { clock: options.clock } : {}),
    // Synchronous node:crypto for the secret digest and the token signature (node-crypto.ts).
    crypto: preferredOAuthCrypto(),
    dpop: config.verification.dpop,
    onSessionEnded: ({ reason, clients }) => {
      log({ level: 'info', msg: 'session ended', reason, clients })
      options.metrics?.sessionEnded?.(reason)
    },
  })
  const backchannel = backchannelWorker(oauth, options, log)
  // The first write to L2 (the first key set, or the discovery of a new deploy): everything above
  // has been checked.
  await keys.start()
  log({ level: 'info', msg: 'key set ready', ...keys.status() })

  const routes = createOAuthRoutes({
    oauth,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    clientIp: clientIpBehind(config.trustedProxyHops),
  })
  return {
    routes,
    oauth,
    config: oauthConfig,
    store,
    keys,
    revocation: revoker.writer,
    backchannel,
  }
}

type Log = NonNullable<Logger['log']>

/** The injected store, else Upstash from the config, else (never in production) the memory store. */
function originStore(config: NodeConfig, options: OriginOptions, log: Log): Store {
  let store = options.store
  const upstash = config.verification.upstash
  if (!store && upstash) store = createUpstashStore(upstash)
  if (!store) {
    // node-config.ts refuses production without UPSTASH_REDIS_REST_URL.
    log({
      level: 'warn',
      msg: 'no UPSTASH_REDIS_REST_URL/TOKEN: using the in-memory store (development only)',
    })
    store = createMemoryStore(options.clock ? { now: options.clock } : {})
  }
  return options.instrumentStore ? options.instrumentStore(store) : store
}

/** Back-channel logout delivery (docs/logout.md): logs each outcome, never the token. */
function backchannelWorker(oauth: OAuthContext, options: OriginOptions, log: Log) {
  const delivery = oauth.config.backchannelLogout
  return createBackchannelWorker({
    queue: oauth.backchannel,
    clients: oauth.clients,
    signer: oauth.signer,
    timeoutMs: delivery.timeoutSeconds * 1000,
    pollMs: delivery.pollSeconds * 1000,
    onEvent: ({ outcome, jobId, clientId, attempt, reason }) => {
      const level = outcome === 'dead' ? 'error' : outcome === 'retry' ? 'warn' : 'info'
      log({ level, msg: `backchannel logout ${outcome}`, clientId, jobId, attempt, reason })
      options.metrics?.backchannelLogout?.(outcome)
    },
    onError: (e) =>
      log({
        level: 'error',
        msg: 'backchannel logout round failed',
        errorName: e instanceof Error ? e.name : typeof e,
      }),
  })
}
