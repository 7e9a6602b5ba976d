/**
 * What the origin builds for one tenant (lazily, on its first request; tenant-contexts.ts caches it):
 * the OAuth context and route group of src/http/oauth, over the tenant's view of the store
 * (scoped-store.ts), so its clients, users, codes, refresh families, sessions, sign-in limits,
 * revocation records and stream, key set and quota counters are all under `t:{id}:` without the
 * OAuth code knowing there are tenants.
 *
 * Signing keys: the tenant's own managed key set (docs/keys.md, src/core/oauth/key-lifecycle.ts),
 * the same lifecycle as the default issuer's, over the tenant's view of L2, so its document is
 * `t:{id}:keys:set:{issuer}`: its own keys, rotation schedule (`oauth.keyRotation`) and published
 * discovery, with private keys wrapped under the deployment's key-encryption keys.
 *
 * @example
 * const build = originTenantBuilder({ store, passwords, keyEncryptionKeys })
 * const tenant = await build(record) // tenant.routes serves /t/acme/authorize, /t/acme/token, ...
 */
import type { Hono } from 'hono'
import { GatehouseError } from '../core/errors.ts'
import {
  createOAuthContext,
  type OAuthContext,
  type OAuthContextOptions,
  type OAuthCrypto,
} from '../core/oauth/context.ts'
import { discoveryMetadata } from '../core/oauth/discovery.ts'
import { rotationPolicyOf } from '../core/oauth/jwks-publication.ts'
import { createKeyLifecycle, type KeyLifecycle, type KeyLog } from '../core/oauth/key-lifecycle.ts'
import type { KeyEncryptionKeys } from '../core/oauth/key-wrap.ts'
import type { PasswordHasher } from '../core/oauth/password.ts'
import { DUMMY_PASSWORD } from '../core/oauth/users.ts'
import type { Clock } from '../core/types.ts'
import type { Logger } from '../http/log.ts'
import { createOAuthRoutes, type OAuthRouteDeps } from '../http/oauth/routes.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { createOAuthRevoker, type RevocationWriter } from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import { createMintQuota, type MintQuota } from './quotas.ts'
import { settingsKey } from './registry-keys.ts'
import { scopeStore } from './scoped-store.ts'
import { withRevocationDoorbell } from './tenant-revocation.ts'
import type { TenantId } from './tenant-id.ts'
import { parseTenantSettings, tenantOAuthConfig, type TenantRecord } from './tenant-record.ts'

export interface OriginTenant {
  id: TenantId
  oauth: OAuthContext
  /** The tenant's OAuth endpoints under its issuer's path. */
  routes: Hono<GatehouseEnv>
  /** The tenant's view of L2. */
  store: Store
  /** Its managed key set: tick it every `checkSeconds` (origin-tenancy.ts). */
  keys: KeyLifecycle
  /** Its key schedule's check interval (`oauth.keyRotation.checkSeconds`). */
  keyCheckSeconds: number
  revocation: RevocationWriter
  /** Token mints per minute, when the tenant has that quota. */
  mintQuota: MintQuota | undefined
}

export interface OriginTenantOptions {
  /** The root store. */
  store: Store
  passwords: PasswordHasher
  /** The deployment's key-encryption keys: every tenant's private keys are wrapped under them. */
  keyEncryptionKeys: KeyEncryptionKeys
  /** Key lifecycle log lines (each carries the tenant). */
  log?: KeyLog
  crypto?: Partial<OAuthCrypto>
  clock?: Clock
  logger?: Logger
  metrics?: OAuthRouteDeps['metrics']
  clientIp?: OAuthRouteDeps['clientIp']
  /** DPoP proof age and replay policy at the tenant's /token (GATEHOUSE_DPOP_*, docs/dpop.md). */
  dpop?: OAuthContextOptions['dpop']
}

/**
 * Every tenant's user directory hashes the same dummy password at start (users.ts: unknown users
 * cost one verification): one hash per process, not one scrypt per tenant built.
 */
function sharingDummyHash(passwords: PasswordHasher): PasswordHasher {
  let dummy: Promise<string> | undefined
  return {
    hash: (password) => {
      if (password !== DUMMY_PASSWORD) return passwords.hash(password)
      dummy ??= passwords.hash(password)
      dummy.catch(() => (dummy = undefined))
      return dummy
    },
    verify: (password, encoded) => passwords.verify(password, encoded),
    needsRehash: (encoded) => passwords.needsRehash(encoded),
    cost: (encoded) => passwords.cost(encoded),
    // A hasher that can make an unmatchable hash without hashing needs no sharing (users.ts).
    ...(passwords.unmatchable ? { unmatchable: passwords.unmatchable.bind(passwords) } : {}),
  }
}

/** The settings named by the record are gone (an update replaced them meanwhile): retry. */
class TenantSettingsMissing extends GatehouseError {
  override readonly name: string = 'TenantSettingsMissing'
  constructor() {
    super({
      code: 'tenant_unavailable',
      description: 'The tenant is being updated; retry shortly.',
      status: 503,
      rfcError: 'temporarily_unavailable',
      retryAfterSeconds: 1,
    })
  }
}

/**
 * The builder `createTenantContexts` calls for the origin.
 *
 * @example const contexts = createTenantContexts({ registry, build: originTenantBuilder(options) })
 */
export function originTenantBuilder(
  options: OriginTenantOptions,
): (record: TenantRecord) => Promise<OriginTenant> {
  const passwords = sharingDummyHash(options.passwords)
  return async (record) => {
    const store = scopeStore(options.store, record.id)
    const settings = parseTenantSettings(await store.get(settingsKey(record.settings)))
    if (!settings) throw new TenantSettingsMissing()
    const config = tenantOAuthConfig(record.issuer, settings.oauth)
    // eslint-disable-next-line prefer-const -- read lazily by the key set's discovery callback
    let oauth: OAuthContext
    const log = options.log
    const keys = createKeyLifecycle({
      store,
      issuer: record.issuer,
      keks: options.keyEncryptionKeys,
      policy: rotationPolicyOf(config),
      discovery: () => discoveryMetadata(oauth),
      ...(log ? { log: (line) => log({ ...line, tenant: record.id }) } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    })
    // Every revocation rings the tenant's doorbell, so edges sync its filter (tenant-revocation.ts).
    const revoker = createOAuthRevoker({
      store: withRevocationDoorbell(store, options.store, record.id),
      ...(options.clock ? { now: options.clock } : {}),
    })
    oauth = await createOAuthContext({
      config,
      store,
      keys,
      revoker,
      passwords,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.crypto ? { crypto: options.crypto } : {}),
      ...(options.dpop ? { dpop: options.dpop } : {}),
    })
    // Reads the tenant's key set, creating its first key when it has none (under the lease).
    await keys.start()
    const routes = createOAuthRoutes({
      oauth,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.clientIp ? { clientIp: options.clientIp } : {}),
    })
    const limit = record.quotas.tokenMintsPerMinute
    return {
      id: record.id,
      oauth,
      routes,
      store,
      keys,
      keyCheckSeconds: config.keyRotation.checkSeconds,
      revocation: revoker.writer,
      mintQuota:
        limit === undefined
          ? undefined
          : createMintQuota({ store, limit, ...(options.clock ? { now: options.clock } : {}) }),
    }
  }
}
