/**
 * Tenancy on the Node origin (`GATEHOUSE_TENANCY=true`, docs/tenancy.md): one process serves every
 * tenant of the registry beside the default one. Built after the default tenant's origin
 * (origin.ts): the default tenant's issuer, host and audiences are reserved in the registry, then a
 * middleware that runs before any route finds each request's tenant (src/tenancy/origin-dispatch.ts)
 * and hands it to that tenant's OAuth routes, built on its first request. With
 * `GATEHOUSE_ADMIN_SECRET_HASH` the tenant admin API is mounted; with `GATEHOUSE_AUDIENCE`, the
 * origin's `/verify` and gateway verify every tenant's tokens as the edge does.
 *
 * Each tenant's signing keys are its own managed key set in its namespace (origin-tenant.ts), under
 * the deployment's key-encryption keys; `tickKeys()` runs the key schedule of every tenant built here.
 *
 * @example
 * const tenancy = await createOriginTenancy(nodeConfig, origin, { logger, revocation })
 * createApp({ middleware: [tenancy.middleware], routes: tenancy.routes, ... })
 */
import type { Hono, MiddlewareHandler } from 'hono'
import type { VerificationConfig } from '../core/config.ts'
import type { KeySet } from '../core/jwks.ts'
import { resolveKeyEncryptionKeys } from '../core/oauth/jwks-publication.ts'
import type { PasswordHasher } from '../core/oauth/password.ts'
import type { Clock } from '../core/types.ts'
import type { SignatureCheck } from '../core/verify.ts'
import type { Logger } from '../http/log.ts'
import type { OAuthRouteDeps } from '../http/oauth/routes.ts'
import type { GatehouseEnv } from '../http/types.ts'
import type { RevocationSync } from '../revocation/index.ts'
import { tenantAdminRoutes } from '../tenancy/admin-routes.ts'
import { createEdgeTenancy } from '../tenancy/edge-tenancy.ts'
import type { TenantVerifier } from '../tenancy/edge-tenants.ts'
import { tenantDispatch } from '../tenancy/origin-dispatch.ts'
import { originTenantBuilder, type OriginTenant } from '../tenancy/origin-tenant.ts'
import { createRegistryFollower } from '../tenancy/registry-follower.ts'
import { createTenantRegistry, type TenantRegistry } from '../tenancy/registry.ts'
import { createTenantContexts, type TenantContexts } from '../tenancy/tenant-contexts.ts'
import { preferredOAuthCrypto } from './node-crypto.ts'
import type { NodeConfig } from './node-config.ts'
import { clientIpBehind, type Origin } from './origin.ts'
import { createScryptHasher } from './password.ts'

export interface OriginTenancyOptions {
  logger: Logger
  metrics?: OAuthRouteDeps['metrics']
  passwords?: PasswordHasher
  clock?: Clock
  /** The default tenant's revocation sync over the root store. */
  revocation?: RevocationSync
  checkSignature?: SignatureCheck
  /** The verification settings in force (the origin's own keys as key source). Default: the config's. */
  verification?: VerificationConfig
}

export interface OriginTenancy {
  /** Runs before every route: tenant requests go to their tenant's routes. */
  middleware: MiddlewareHandler<GatehouseEnv>
  /** The tenant admin API, when an admin credential is configured. */
  routes: { path: string; app: Hono<GatehouseEnv> }[]
  /**
   * Every tenant's tokens, for `/verify` and the gateway (when an audience is configured), the
   * default tenant's with the origin's own keys (`appFromConfig`'s `verifier`).
   */
  verifier: ((defaultKeys: KeySet | undefined) => Promise<TenantVerifier>) | undefined
  /** One step of every built tenant's key schedule whose check is due (node-server.ts's timer). */
  tickKeys(): void
  registry: TenantRegistry
  contexts: TenantContexts<OriginTenant>
}

export async function createOriginTenancy(
  config: NodeConfig,
  origin: Origin,
  options: OriginTenancyOptions,
): Promise<OriginTenancy> {
  const { logger } = options
  const store = origin.store
  const log = logger.log.bind(logger)
  // The default issuer's key-encryption keys (its config or keys file; outside production only, the
  // shared development KEK): every tenant's private keys are wrapped under them.
  const keyEncryptionKeys = await resolveKeyEncryptionKeys({
    config: origin.config,
    store,
    production: config.production,
    log,
  })
  const verification = options.verification ?? config.verification
  const registry = createTenantRegistry({ store, ...(options.clock ? { now: options.clock } : {}) })
  const defaultIssuer = new URL(origin.config.issuer)
  const held = await registry.reserveDefault({
    issuer: origin.config.issuer,
    hosts: [defaultIssuer.host],
    audiences: [
      ...new Set([
        ...origin.config.clients.flatMap((c) => c.audiences),
        ...(verification.audience ? [verification.audience] : []),
      ]),
    ],
  })
  if (held.length > 0)
    logger.log({ level: 'warn', msg: "tenants hold the default tenant's claims", claims: held })

  // eslint-disable-next-line prefer-const -- the follower's callback reaches the contexts
  let contexts: TenantContexts<OriginTenant>
  const follower = createRegistryFollower({
    store,
    syncSeconds: verification.revocation.syncSeconds,
    syncTimeoutMs: verification.revocation.syncTimeoutMs,
    maxStalenessSeconds: verification.revocation.maxStalenessSeconds,
    policy: verification.revocation.policy,
    onChange: (id) => contexts.changed(id),
    logger,
    ...(options.clock ? { now: options.clock } : {}),
  })
  contexts = createTenantContexts({
    registry,
    epoch: () => follower.epoch,
    maxEntries: verification.tenancy.maxTenants,
    build: originTenantBuilder({
      store,
      passwords: options.passwords ?? createScryptHasher(),
      keyEncryptionKeys,
      log,
      crypto: preferredOAuthCrypto(),
      logger,
      clientIp: clientIpBehind(config.trustedProxyHops),
      dpop: verification.dpop,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    }),
  })
  const middleware = tenantDispatch({
    contexts,
    follower,
    defaultHost: defaultIssuer.host,
    // Behind our edge or ingress the Host header is theirs; the host the client used is forwarded.
    ...(config.trustedProxyHops > 0
      ? {
          requestHost: (c) =>
            (
              c.req.header('x-forwarded-host')?.split(',')[0]?.trim() ?? c.req.header('host')
            )?.toLowerCase(),
        }
      : {}),
  })
  const verifier =
    verification.audience === undefined
      ? undefined
      : (defaultKeys: KeySet | undefined) =>
          createEdgeTenancy({
            config: verification,
            store,
            ...(options.revocation ? { revocation: options.revocation } : {}),
            ...(options.checkSignature ? { checkSignature: options.checkSignature } : {}),
            ...(options.clock ? { now: options.clock } : {}),
            logger,
            // One follower per process: /verify listens to the routing's (one read per sync).
            shared: { registry, follower },
          }).verifierWith(defaultKeys)
  // The key schedule of each tenant built here, each on its own check interval (docs/keys.md).
  const ticked = new WeakMap<OriginTenant, number>()
  const now = options.clock ?? (() => Date.now())
  const tickKeys = (): void => {
    const t = now()
    for (const entry of contexts.entries()) {
      const tenant = entry.context
      if (t - (ticked.get(tenant) ?? -Infinity) < tenant.keyCheckSeconds * 1000) continue
      ticked.set(tenant, t)
      tenant.keys.tick().catch(() => {}) // tick() logs its own failures
    }
  }
  const routes = verification.adminSecretHash
    ? [
        {
          path: '/',
          app: tenantAdminRoutes({
            registry,
            store,
            adminSecretHash: verification.adminSecretHash,
          }),
        },
      ]
    : []
  return { middleware, routes, verifier, tickKeys, registry, contexts }
}
