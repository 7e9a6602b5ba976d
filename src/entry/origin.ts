/**
 * Builds the origin's OAuth route group from the environment (DESIGN.md, Contracts: `GATEHOUSE_CONFIG`
 * names the JSON config, `GATEHOUSE_ISSUER` overrides its issuer, `UPSTASH_REDIS_REST_URL` and
 * `UPSTASH_REDIS_REST_TOKEN` select the L2 store). Validates the config (a bad one throws the shell's
 * `ConfigError` naming the field, so node.ts prints it and exits 1), picks the store (the memory store,
 * with a warning, only outside production), loads the signing keys (or, in development with none
 * configured, a shared ephemeral ES256 key, with a warning), publishes the public JWKS to L2 and
 * returns the Hono route group for `createApp({ routes })`.
 *
 * @example
 * const origin = await createOriginRoutes(process.env, { logger })
 * const app = createApp({ role: 'origin', verifier, logger, routes: [{ path: '/', app: origin.routes }] })
 */
import { readFile } from 'node:fs/promises'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Hono } from 'hono'
import type { JWK } from 'jose'
import { ConfigError, parseOAuthConfig, type OAuthConfig } from '../core/oauth/config.ts'
import { createOAuthContext, type OAuthContext } from '../core/oauth/context.ts'
import { publishJwks, sharedEphemeralKey } from '../core/oauth/jwks-publication.ts'
import { loadSigningKeys } from '../core/oauth/keys.ts'
import type { PasswordHasher } from '../core/oauth/password.ts'
import type { Clock } from '../core/types.ts'
import type { Logger } from '../http/log.ts'
import { clientAddress } from '../http/client-ip.ts'
import { createOAuthRoutes, type OAuthRouteDeps } from '../http/oauth/routes.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { createMemoryStore } from '../store/memory.ts'
import type { Store } from '../store/types.ts'
import { createUpstashStore } from '../store/upstash.ts'
import { createOAuthRevoker, type RevocationWriter } from '../revocation/index.ts'
import { preferredOAuthCrypto } from './node-crypto.ts'
import { createScryptHasher } from './password.ts'

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
  /** The public keys, e.g. as the inline key set of the origin's own `/verify` verifier. */
  publicJwks: { keys: JWK[] }
  /** Revocation records and events, shared with the edge (src/revocation/records.ts). */
  revocation: RevocationWriter
}

type Env = Record<string, unknown>

const str = (env: Env, name: string): string | undefined => {
  const v = env[name]
  return typeof v === 'string' && v !== '' ? v : undefined
}

export async function createOriginRoutes(env: Env, options: OriginOptions = {}): Promise<Origin> {
  const log = options.logger?.log.bind(options.logger) ?? (() => {})
  const production = str(env, 'NODE_ENV') === 'production'
  const path = str(env, 'GATEHOUSE_CONFIG')
  if (!path)
    throw new ConfigError([
      { field: 'GATEHOUSE_CONFIG', message: 'required: path of the JSON config' },
    ])
  let raw: unknown
  try {
    raw = JSON.parse(await (options.readConfigFile ?? ((p) => readFile(p, 'utf8')))(path))
  } catch (e) {
    const what = e instanceof SyntaxError ? 'is not valid JSON' : 'could not be read'
    throw new ConfigError([{ field: 'GATEHOUSE_CONFIG', message: `the file ${what}` }])
  }
  // Private signing keys may live in their own file (a Kubernetes Secret) so the JSON config can
  // be a ConfigMap: `{"keys": [private JWKs with kid, alg, status]}`, validated by the same schema.
  const keysPath = str(env, 'GATEHOUSE_KEYS_FILE')
  if (keysPath !== undefined && raw !== null && typeof raw === 'object') {
    const inline = (raw as { keys?: unknown }).keys
    if (Array.isArray(inline) && inline.length > 0)
      throw new ConfigError([
        {
          field: 'GATEHOUSE_KEYS_FILE',
          message: 'the config file declares keys too: keep them in one place',
        },
      ])
    let keysDoc: unknown
    try {
      keysDoc = JSON.parse(await (options.readConfigFile ?? ((p) => readFile(p, 'utf8')))(keysPath))
    } catch (e) {
      const what = e instanceof SyntaxError ? 'is not valid JSON' : 'could not be read'
      throw new ConfigError([{ field: 'GATEHOUSE_KEYS_FILE', message: `the file ${what}` }])
    }
    const keys = (keysDoc as { keys?: unknown } | null)?.keys
    if (!Array.isArray(keys))
      throw new ConfigError([
        {
          field: 'GATEHOUSE_KEYS_FILE',
          message: 'must be {"keys": [private JWKs with kid, alg, status]}',
        },
      ])
    raw = { ...raw, keys }
  }
  const hops = str(env, 'GATEHOUSE_TRUSTED_PROXY_HOPS') ?? '0'
  if (!/^[0-5]$/.test(hops))
    throw new ConfigError([
      { field: 'GATEHOUSE_TRUSTED_PROXY_HOPS', message: 'must be an integer between 0 and 5' },
    ])
  const trustedHops = Number(hops)
  const issuer = str(env, 'GATEHOUSE_ISSUER')
  if (issuer !== undefined && raw !== null && typeof raw === 'object') raw = { ...raw, issuer }

  const config: OAuthConfig = parseOAuthConfig(raw)

  const url = str(env, 'UPSTASH_REDIS_REST_URL')
  const token = str(env, 'UPSTASH_REDIS_REST_TOKEN')
  let store = options.store
  if (!store && url && token) store = createUpstashStore({ url, token })
  if (!store) {
    if (production)
      throw new ConfigError([
        {
          field: 'UPSTASH_REDIS_REST_URL',
          message: 'required in production (with UPSTASH_REDIS_REST_TOKEN)',
        },
      ])
    log({
      level: 'warn',
      msg: 'no UPSTASH_REDIS_REST_URL/TOKEN: using the in-memory store (development only)',
    })
    store = createMemoryStore(options.clock ? { now: options.clock } : {})
  }

  if (options.instrumentStore) store = options.instrumentStore(store)

  let keys
  if (config.keys.length > 0) keys = await loadSigningKeys(config.keys)
  else if (production)
    throw new ConfigError([
      { field: 'config.keys', message: 'signing keys are required in production' },
    ])
  else {
    log({
      level: 'warn',
      msg: 'no signing keys configured: using an ephemeral ES256 key (development only; run `gatehouse keys generate`)',
    })
    keys = await loadSigningKeys([await sharedEphemeralKey(store)])
  }

  const publicJwks = keys.publicJwks()
  const published = await publishJwks(store, publicJwks, options.clock)
  log({
    level: 'info',
    msg: 'jwks published',
    version: published.version,
    changed: published.changed,
  })

  // One record layout for the origin's /revoke, /logout, /introspect and the edge filter.
  const revoker = createOAuthRevoker({ store, ...(options.clock ? { now: options.clock } : {}) })
  const oauth = await createOAuthContext({
    config,
    store,
    keys,
    revoker,
    passwords: options.passwords ?? createScryptHasher(),
    ...(options.clock ? { clock: options.clock } : {}),
    // Synchronous node:crypto for the secret digest and the token signature (node-crypto.ts).
    crypto: preferredOAuthCrypto(),
  })
  const routes = createOAuthRoutes({
    oauth,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    // Per-IP login limits need the client, not our edge or ingress: see client-ip.ts.
    clientIp: (c) => {
      let socket: string | undefined
      try {
        socket = getConnInfo(c).remote.address
      } catch {
        return undefined
      }
      return clientAddress(socket, c.req.header('x-forwarded-for') ?? null, trustedHops)
    },
  })
  return { routes, oauth, config, store, publicJwks, revocation: revoker.writer }
}
