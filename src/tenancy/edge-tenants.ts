/**
 * Verification for many tenants at once (docs/tenancy.md, "At the edge"). The tenant is chosen from
 * the token's `iss`, read before verification and matched exactly against the published tenants
 * (tenant-contexts.ts; never the Host header); then that tenant's verifier decides alone: its key
 * set (read from its own namespace, so no other tenant's key is ever in it), its exact issuer, its
 * audiences, its revocation filter and its quota. Whatever `kid`, `iss` or `aud` a token carries, it
 * can only be checked against the keys of the tenant its `iss` names, and that tenant's verifier then
 * requires `iss` to be its own issuer.
 *
 * L1: one bounded cache of verified tokens per isolate, whatever the number of tenants, so a request
 * costs the same with one tenant or ten thousand. Each entry is bound to the tenant context that
 * verified it and is served only while that context is live: a tenant's change or removal, applied by
 * the registry follower within the revocation bound, voids its entries at once.
 *
 * @example
 * const verifier = createTenantVerifier({ contexts, follower, l1MaxEntries: 10_000 })
 * const { claims, tenant } = await verifier.verify(token, { waitUntil })
 */
import { createTokenCache } from '../cache/token-cache.ts'
import { AuthError } from '../core/errors.ts'
import { parseCompactJws } from '../core/jws.ts'
import type { KeySet } from '../core/jwks.ts'
import type { Clock, VerifiedToken } from '../core/types.ts'
import {
  createAccessTokenVerifier,
  type AccessTokenVerifier,
  type SignatureCheck,
} from '../core/verify.ts'
import { createEdgeKeys, type EdgeKeys } from '../http/edge-keys.ts'
import type { TokenVerifier, VerificationRequest } from '../http/types.ts'
import {
  createRevocationSync,
  RevocationChecker,
  type RevocationPolicy,
  type RevocationSync,
} from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import type { RegistryFollower } from './registry-follower.ts'
import { createVerificationQuota, type VerificationQuota } from './quotas.ts'
import { scopeStore } from './scoped-store.ts'
import type { TenantContexts, TenantEntry } from './tenant-contexts.ts'
import { gateTenantRevocation, type TenantRevocationSync } from './tenant-revocation.ts'
import type { TenantRecord } from './tenant-record.ts'

/** What an edge holds for one tenant. */
export interface EdgeTenant {
  /** The core verifier: this tenant's issuer, audiences and keys; no cache. */
  verifier: AccessTokenVerifier
  /**
   * The tenant's key set in its namespace (the one the verifier uses) and its discovery and JWKS
   * routes; the default tenant's are the entry's own (app-from-config.ts), so none here.
   */
  keys: EdgeKeys | undefined
  /** The tenant's revocation state; both set or neither. Flat, so an L1 hit touches fewer objects. */
  revocationSync: RevocationSync | TenantRevocationSync | undefined
  revocationChecker: RevocationChecker | undefined
  quota: VerificationQuota | undefined
}

/** Verification settings shared by every tenant of an edge. */
export interface EdgeTenantSettings {
  clockLeewaySeconds?: number
  checkSignature?: SignatureCheck
  now?: Clock
  revocation?: {
    syncSeconds: number
    syncTimeoutMs: number
    maxStalenessSeconds: number
    policy: RevocationPolicy
  }
  logger?: Parameters<typeof createRevocationSync>[0]['logger']
}

/** Revocation filters of tenants start small; a snapshot sizes them to what was revoked. */
const TENANT_FILTER_CAPACITY = 1000

/**
 * The pieces of one tenant's verification, over its own key set and revocation state.
 *
 * @example const tenant = edgeTenant({ issuer, audiences, keys, revocation: { store } }, settings)
 */
export function edgeTenant(
  parts: {
    issuer: string
    audiences: readonly string[]
    keys: KeySet
    /** The tenant's key source and metadata routes, when `keys` is its published set. */
    edgeKeys?: EdgeKeys
    /** The tenant's view of L2 for its revocation records and stream; none: no revocation. */
    revocationStore?: Pick<Store, 'get' | 'readStream' | 'lastStreamEntry'>
    /** An existing sync (the default tenant's, shared with the rest of the app). */
    revocationSync?: RevocationSync
    /** Syncs the tenant's filter only when its doorbell rang (tenant-revocation.ts). */
    doorbell?: Pick<RegistryFollower, 'prepare'>
    verificationsPerSecond?: number
  },
  settings: EdgeTenantSettings,
): EdgeTenant {
  const now = settings.now ?? (() => Date.now())
  const audiences = new Set(parts.audiences)
  const verifier = createAccessTokenVerifier({
    issuer: parts.issuer,
    // RFC 9068 §4: `aud` must name one of this tenant's audiences (no two tenants share one).
    audience: (list) => list.some((a) => audiences.has(a)),
    keys: parts.keys,
    now,
    ...(settings.clockLeewaySeconds === undefined
      ? {}
      : { clockLeewaySeconds: settings.clockLeewaySeconds }),
    ...(settings.checkSignature === undefined ? {} : { checkSignature: settings.checkSignature }),
  })
  let revocationSync: EdgeTenant['revocationSync']
  let revocationChecker: EdgeTenant['revocationChecker']
  if (parts.revocationStore) {
    const own = (): RevocationSync =>
      createRevocationSync({
        store: parts.revocationStore as Pick<Store, 'get' | 'readStream' | 'lastStreamEntry'>,
        now,
        initialCapacity: TENANT_FILTER_CAPACITY,
        ...(settings.revocation ?? {}),
        ...(settings.logger ? { logger: settings.logger } : {}),
      })
    revocationSync =
      parts.revocationSync ?? (parts.doorbell ? gateTenantRevocation(own(), parts.doorbell) : own())
    revocationChecker = new RevocationChecker({
      sync: revocationSync,
      store: parts.revocationStore,
      now,
    })
  }
  const limit = parts.verificationsPerSecond
  return {
    verifier,
    keys: parts.edgeKeys,
    revocationSync,
    revocationChecker,
    quota: limit === undefined ? undefined : createVerificationQuota({ limit, now }),
  }
}

/**
 * The builder `createTenantContexts` calls at the edge: a tenant from its record, over its view of
 * the root store.
 *
 * @example const contexts = createTenantContexts({ registry, build: edgeTenantBuilder(store, settings, follower) })
 */
export function edgeTenantBuilder(
  store: Store,
  settings: EdgeTenantSettings,
  doorbell: Pick<RegistryFollower, 'prepare'>,
): (record: TenantRecord) => EdgeTenant {
  return (record) => {
    const tenantStore = scopeStore(store, record.id)
    // The key set the tenant's origin publishes in its namespace (docs/keys.md), and nothing else:
    // no fallback, so this verifier can never hold a key of another issuer.
    const keys = createEdgeKeys({
      issuer: record.issuer,
      store: tenantStore,
      ...(settings.now ? { now: settings.now } : {}),
    })
    // Its 404/503 go to the app's error handler, through tenant-metadata.ts's middleware.
    keys.routes.onError((error) => {
      throw error
    })
    return edgeTenant(
      {
        issuer: record.issuer,
        audiences: record.audiences,
        keys: keys.keySet,
        edgeKeys: keys,
        revocationStore: tenantStore,
        doorbell,
        ...(record.quotas.verificationsPerSecond === undefined
          ? {}
          : { verificationsPerSecond: record.quotas.verificationsPerSecond }),
      },
      settings,
    )
  }
}

export interface TenantVerifierOptions {
  contexts: TenantContexts<EdgeTenant>
  follower: Pick<RegistryFollower, 'prepare' | 'maybeSync' | 'policy'>
  /** L1 size for every tenant together; 0 turns it off. Default 10,000. */
  l1MaxEntries?: number
  now?: Clock
}

export interface TenantVerifier extends TokenVerifier {
  /** L1 counters, for the benchmark and `/revocation/status`. */
  stats(): { hits: number; misses: number; size: number; tenants: number }
}

const unknownIssuer = () => new AuthError('issuer_mismatch', 'token issuer is not accepted')
const registryStale = () =>
  new AuthError('revocation_unavailable', 'tenant registry is temporarily unavailable')

/**
 * @example
 * const verifier = createTenantVerifier({ contexts, follower })
 * app = createApp({ role: 'edge', verifier, ... })
 */
export function createTenantVerifier(options: TenantVerifierOptions): TenantVerifier {
  const { contexts, follower } = options
  const maxEntries = options.l1MaxEntries ?? 10_000
  const now = options.now ?? (() => Date.now())
  const cache = maxEntries === 0 ? undefined : createTokenCache({ maxEntries, now })
  // Which tenant entry verified a cached result (the cache freezes and stores the object itself).
  const verifiedBy = new WeakMap<VerifiedToken, TenantEntry<EdgeTenant>>()

  async function verifyUncached(token: string) {
    const { payload } = parseCompactJws(token)
    const iss = payload.iss
    if (typeof iss !== 'string') throw unknownIssuer()
    const entry = await contexts.byIssuer(iss)
    if (entry === undefined) throw unknownIssuer()
    const { header, claims } = await entry.context.verifier.verify(token)
    const verified: VerifiedToken = { header, claims, tenant: entry.id }
    // An entry dropped while we verified (or built from a view that raced a change) is not cached.
    if (cache && entry.live) {
      cache.set(token, verified)
      verifiedBy.set(verified, entry)
    }
    return { entry, verified }
  }

  async function verifyToken(
    token: string,
    request: VerificationRequest | undefined,
  ): Promise<VerifiedToken> {
    let verified = cache?.get(token)
    let entry = verified && verifiedBy.get(verified)
    if (entry === undefined || !entry.live) {
      ;({ entry, verified } = await verifyUncached(token))
    }
    const tenant = entry.context
    tenant.quota?.take()
    const checker = tenant.revocationChecker
    if (checker !== undefined) {
      tenant.revocationSync?.maybeSync(request?.waitUntil)
      const pending = checker.check(verified as VerifiedToken)
      if (pending !== undefined) await pending
    }
    return verified as VerifiedToken
  }

  return {
    verify(token, request) {
      follower.maybeSync(request?.waitUntil)
      const stale = follower.prepare()
      if (stale === false) return verifyToken(token, request)
      if (stale === true) {
        if (follower.policy === 'closed') return Promise.reject(registryStale())
        return verifyToken(token, request)
      }
      return stale.then((isStale) => {
        if (isStale && follower.policy === 'closed') throw registryStale()
        return verifyToken(token, request)
      })
    },
    stats() {
      const s = cache?.stats()
      return {
        hits: s?.hits ?? 0,
        misses: s?.misses ?? 0,
        size: s?.size ?? 0,
        tenants: contexts.size,
      }
    },
  }
}
