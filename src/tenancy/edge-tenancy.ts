/**
 * Multi-tenant verification from an entry's configuration, for the Worker and for the origin's own
 * `/verify` and gateway: the registry, its follower, the bounded tenant contexts and the verifier
 * that picks the tenant from `iss`. The default tenant (the `GATEHOUSE_*` issuer, audience and key
 * source) is one of the tenants, pinned, with the revocation sync the entry already runs over the
 * root store, so its tokens go through the same L1 and cost the same as before.
 *
 * Tenants' discovery and JWKS are served from their key sets in L2, like the default issuer's
 * (src/http/edge-keys.ts), and custom-host tenants' minting routes are forwarded to the origin through
 * the app's origin proxy (tenant-edge-routes.ts).
 *
 * @example
 * const tenancy = createEdgeTenancy({ config, store, revocation, logger })
 * const app = await appFromConfig(config, {
 *   role: 'edge', logger, middleware: [tenancy.middleware], verifier: tenancy.verifierWith,
 *   onOriginProxy: tenancy.forwardThrough,
 * })
 */
import type { MiddlewareHandler } from 'hono'
import type { VerificationConfig } from '../core/config.ts'
import { createRemoteKeySet, createStaticKeySet, type KeySet } from '../core/jwks.ts'
import type { Clock } from '../core/types.ts'
import type { SignatureCheck } from '../core/verify.ts'
import type { Logger } from '../http/log.ts'
import type { OriginProxy } from '../http/origin-proxy.ts'
import type { GatehouseEnv } from '../http/types.ts'
import type { RevocationSync } from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import {
  createTenantVerifier,
  edgeTenant,
  edgeTenantBuilder,
  type EdgeTenant,
} from './edge-tenants.ts'
import { createRegistryFollower, type RegistryFollower } from './registry-follower.ts'
import { createTenantRegistry, type TenantRegistry } from './registry.ts'
import { createTenantContexts, type TenantContexts } from './tenant-contexts.ts'
import { DEFAULT_TENANT } from './tenant-id.ts'
import type { TenantVerifier } from './edge-tenants.ts'
import { tenantEdgeRoutes, type ForwardToOrigin } from './tenant-edge-routes.ts'

export interface EdgeTenancyOptions {
  config: VerificationConfig
  /** The root store. */
  store: Store
  /** The default tenant's revocation sync over the root store (the entry's own). */
  revocation?: RevocationSync
  checkSignature?: SignatureCheck
  fetch?: typeof fetch
  logger?: Logger
  now?: Clock
  /**
   * The process's registry and follower, when it has them already (the origin's routing): this
   * tenancy listens to that follower instead of reading the change stream a second time.
   */
  shared?: { registry: TenantRegistry; follower: RegistryFollower }
}

export interface EdgeTenancy {
  /**
   * The verifier for every tenant, the default one verifying with `defaultKeys` (the entry's key
   * set: from L2 at the edge, its own at the origin; default: the configured key source). Once.
   */
  verifierWith(defaultKeys: KeySet | undefined): Promise<TenantVerifier>
  /**
   * Before the routes: serves each tenant's discovery and JWKS from its key set in L2 (path-based,
   * and on a custom host the tenant registered) and forwards custom-host tenants' minting routes.
   */
  middleware: MiddlewareHandler<GatehouseEnv>
  /** Given the app's origin proxy (`appFromConfig`'s `onOriginProxy`): where minting requests go. */
  forwardThrough(proxy: Pick<OriginProxy, 'forwardAsIs'>): void
  registry: TenantRegistry
  follower: RegistryFollower
  contexts: TenantContexts<EdgeTenant>
}

/** The default tenant's key set, as the single-tenant entry builds it. */
async function configuredKeys(options: EdgeTenancyOptions): Promise<KeySet> {
  const { config } = options
  const source = config.keySource
  if (source === undefined) throw new TypeError('createEdgeTenancy: a key source is required')
  if (source.kind === 'inline') return createStaticKeySet(source.jwks)
  return createRemoteKeySet(source.url, {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    ...(options.now ? { now: options.now } : {}),
    ...(config.jwksTimeoutMs === undefined ? {} : { timeoutMs: config.jwksTimeoutMs }),
    ...(config.jwksRefreshSeconds === undefined
      ? {}
      : { refreshIntervalSeconds: config.jwksRefreshSeconds }),
  })
}

/** A doorbell rang for `id`: its next request syncs its revocation filter first. */
export function ringTenant(contexts: TenantContexts<EdgeTenant>, id: string): void {
  contexts.peek(id)?.context.revocation?.ring()
}

export function createEdgeTenancy(options: EdgeTenancyOptions): EdgeTenancy {
  const { config, store } = options
  const now = options.now ?? (() => Date.now())
  const settings = {
    now,
    clockLeewaySeconds: config.clockLeewaySeconds,
    revocation: {
      syncSeconds: config.revocation.syncSeconds,
      syncTimeoutMs: config.revocation.syncTimeoutMs,
      maxStalenessSeconds: config.revocation.maxStalenessSeconds,
      policy: config.revocation.policy,
    },
    ...(options.checkSignature ? { checkSignature: options.checkSignature } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  }
  const registry = options.shared?.registry ?? createTenantRegistry({ store, now })
  // eslint-disable-next-line prefer-const -- the follower's callback reaches the contexts
  let contexts: TenantContexts<EdgeTenant>
  const listener = {
    onChange: (id: string | undefined) => contexts.changed(id),
    onRevocation: (id: string) => ringTenant(contexts, id),
  }
  const follower =
    options.shared?.follower ??
    createRegistryFollower({
      store,
      now,
      ...settings.revocation,
      ...listener,
      ...(options.logger ? { logger: options.logger } : {}),
    })
  if (options.shared) follower.listen(listener)
  contexts = createTenantContexts({
    registry,
    build: edgeTenantBuilder(store, settings, follower),
    epoch: () => follower.epoch,
    maxEntries: config.tenancy.maxTenants,
  })

  async function verifierWith(defaultKeys: KeySet | undefined): Promise<TenantVerifier> {
    const audience = config.audience
    if (audience === undefined) throw new TypeError('createEdgeTenancy: an audience is required')
    const defaultTenant = edgeTenant(
      {
        issuer: config.issuer,
        audiences: [audience],
        keys: defaultKeys ?? (await configuredKeys(options)),
        ...(options.revocation
          ? { revocationStore: store, revocationSync: options.revocation }
          : {}),
      },
      settings,
    )
    contexts.pin(
      {
        format: 1,
        id: DEFAULT_TENANT,
        revision: 0,
        issuer: config.issuer,
        hosts: [],
        audiences: [audience],
        quotas: {},
        settings: '',
        createdAt: 0,
        updatedAt: 0,
      },
      defaultTenant,
    )
    return createTenantVerifier({ contexts, follower, l1MaxEntries: config.l1MaxEntries, now })
  }

  let forward: ForwardToOrigin | undefined
  const defaultHost = URL.canParse(config.issuer) ? new URL(config.issuer).host : undefined
  return {
    verifierWith,
    middleware: tenantEdgeRoutes({
      contexts,
      follower,
      ...(defaultHost === undefined ? {} : { defaultHost }),
      forward: () => forward,
    }),
    forwardThrough(proxy) {
      forward = (c) => proxy.forwardAsIs(c)
    },
    registry,
    follower,
    contexts,
  }
}
