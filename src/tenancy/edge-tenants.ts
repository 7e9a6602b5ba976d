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
import type { AudienceRule } from '../core/claims.ts'
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
  type RevocationPolicy,
  type RevocationSync,
} from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import type { RegistryFollower } from './registry-follower.ts'
import { TenantHitTable } from './hit-table.ts'
import { createVerificationQuota, type VerificationQuota } from './quotas.ts'
import { scopeStore } from './scoped-store.ts'
import type { TenantContexts, TenantEntry } from './tenant-contexts.ts'
import { tenantRevocation, type TenantRevocation } from './tenant-revocation.ts'
import type { TenantRecord } from './tenant-record.ts'
import { tokenIssuer } from './token-issuer.ts'

/** What an edge holds for one tenant. */
export interface EdgeTenant {
  /** The core verifier: this tenant's issuer, audiences and keys; no cache. */
  verifier: AccessTokenVerifier
  /**
   * The tenant's key set in its namespace (the one the verifier uses) and its discovery and JWKS
   * routes; the default tenant's are the entry's own (app-from-config.ts), so none here.
   */
  keys: EdgeKeys | undefined
  /** The tenant's revocation sync and per-token check, one object; undefined: no revocation. */
  revocation: TenantRevocation | undefined
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

/** A tenant's audiences as the core verifier takes them: the string itself when there is one. */
function audienceRule(audiences: readonly string[]): string | AudienceRule {
  const [only] = audiences
  if (audiences.length === 1 && only !== undefined) return only
  const set = new Set(audiences)
  return (list) => list.some((a) => set.has(a))
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
  const verifier = createAccessTokenVerifier({
    issuer: parts.issuer,
    // RFC 9068 §4: `aud` must name one of this tenant's audiences (no two tenants share one). One
    // audience (the usual case) is compared as the default issuer's is: no set and rule per tenant.
    audience: audienceRule(parts.audiences),
    keys: parts.keys,
    now,
    ...(settings.clockLeewaySeconds === undefined
      ? {}
      : { clockLeewaySeconds: settings.clockLeewaySeconds }),
    ...(settings.checkSignature === undefined ? {} : { checkSignature: settings.checkSignature }),
  })
  let revocation: TenantRevocation | undefined
  if (parts.revocationStore) {
    const store = parts.revocationStore
    revocation = tenantRevocation({
      sync:
        parts.revocationSync ??
        createRevocationSync({
          store,
          now,
          initialCapacity: TENANT_FILTER_CAPACITY,
          ...(settings.revocation ?? {}),
          ...(settings.logger ? { logger: settings.logger } : {}),
        }),
      store,
      now,
      ...(parts.revocationSync === undefined && parts.doorbell ? { doorbell: parts.doorbell } : {}),
    })
  }
  const limit = parts.verificationsPerSecond
  return {
    verifier,
    keys: parts.edgeKeys,
    revocation,
    quota: limit === undefined ? undefined : createVerificationQuota({ limit, now }),
  }
}

const rethrow = (error: Error): never => {
  throw error
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
    // Its metadata routes are built on the tenant's first metadata request, not here; their
    // 404/503 go to the app's error handler, through tenant-edge-routes.ts's middleware.
    const keys = createEdgeKeys({
      issuer: record.issuer,
      store: tenantStore,
      ...(settings.now ? { now: settings.now } : {}),
      onError: rethrow,
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
  verifyNow(token: string, request?: VerificationRequest): VerifiedToken | Promise<VerifiedToken>
  /** L1 counters, for the benchmark and `/revocation/status`. */
  stats(): { hits: number; misses: number; size: number; tenants: number }
}

const unknownIssuer = () => new AuthError('issuer_mismatch', 'token issuer is not accepted')
const registryStale = () =>
  new AuthError('revocation_unavailable', 'tenant registry is temporarily unavailable')

/**
 * What the L1 keeps beside a verified token (the cache freezes and stores the token's result itself,
 * so this lives in a weak map keyed by it): the tenant entry that verified it, that tenant's quota
 * and revocation (copied here, so the slow path reads two objects of its tenant, the entry and its
 * revocation, not also the context between them), the tenant's slot and its generation in the
 * edge's hit table (-1: none), and the revocation filter epoch at which the token's probes last all
 * missed (-1: not yet). One class, so a hit of any tenant reads one shape.
 */
class CachedTenantToken {
  readonly entry: TenantEntry<EdgeTenant>
  readonly quota: VerificationQuota | undefined
  readonly revocation: TenantRevocation | undefined
  readonly slot: number
  readonly generation: number
  missedAt = -1

  /** `table`: the edge's hit table, when the token goes into L1 (none: no slot is opened). */
  constructor(entry: TenantEntry<EdgeTenant>, table: TenantHitTable | undefined) {
    this.entry = entry
    this.quota = entry.context.quota
    this.revocation = entry.context.revocation
    // Only a live entry gets a slot: its drop closes the slot (createTenantVerifier's listener).
    this.slot = table && entry.live ? (this.revocation?.hitSlot(table) ?? -1) : -1
    this.generation = table === undefined || this.slot < 0 ? -1 : table.generation(this.slot)
  }
}

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
  const cached = new WeakMap<VerifiedToken, CachedTenantToken>()
  // Every live tenant's state for L1 hits in one array (hit-table.ts). A tenant's slot is closed
  // when its entry is dropped (changed, removed, evicted), in the same turn as `live` goes false,
  // so a hit that passes the table is one the entry would have let through.
  const table = new TenantHitTable()
  contexts.whenDropped((entry) => entry.context.revocation?.retire())

  async function verifyUncached(
    token: string,
    request: VerificationRequest | undefined,
  ): Promise<VerifiedToken> {
    // Only picks the verifier; that tenant's verifier parses the token strictly (token-issuer.ts).
    const iss = tokenIssuer(token)
    if (iss === undefined) throw unknownIssuer()
    // A tenant built here already is found without an await turn; else the registry is read.
    const entry = contexts.cachedByIssuer(iss) ?? (await contexts.byIssuer(iss))
    if (entry === undefined) throw unknownIssuer()
    const { header, claims } = await entry.context.verifier.verify(token)
    const verified: VerifiedToken = { header, claims, tenant: entry.id }
    // An entry dropped while we verified (or built from a view that raced a change) is not cached.
    const seen = new CachedTenantToken(entry, cache && table)
    if (cache && entry.live) {
      cache.set(token, verified)
      cached.set(verified, seen)
    }
    return admit(verified, seen, request)
  }

  /**
   * The tenant's quota and revocation for a verified token: the token itself when both pass at once
   * (a hit whose probes missed before at the filter's current epoch reads only its tenant's objects),
   * a promise when the revocation check must wait, or a throw.
   */
  function admit(
    verified: VerifiedToken,
    seen: CachedTenantToken,
    request: VerificationRequest | undefined,
  ): VerifiedToken | Promise<VerifiedToken> {
    seen.quota?.take()
    const revocation = seen.revocation
    if (revocation === undefined) return verified
    revocation.maybeSync(request?.waitUntil)
    if (revocation.wouldMiss(seen.missedAt)) return verified
    const pending = revocation.check(verified)
    if (pending !== undefined) return pending.then(() => verified)
    seen.missedAt = revocation.epoch
    return verified
  }

  /** With the registry view usable: an L1 hit of a live tenant, else a full verification. */
  function verifyCurrent(
    token: string,
    request: VerificationRequest | undefined,
  ): VerifiedToken | Promise<VerifiedToken> {
    const verified = cache?.get(token)
    if (verified !== undefined) {
      const seen = cached.get(verified)
      if (seen !== undefined) {
        // The tenant is live and its filter lets this token pass unprobed: one read of the table,
        // none of the tenant's objects (what `admit` would decide, see CachedTenantToken).
        if (seen.slot >= 0 && table.passes(seen.slot, seen.generation, seen.missedAt)) {
          seen.quota?.take()
          return verified
        }
        if (seen.entry.live) return admit(verified, seen, request)
      }
    }
    return verifyUncached(token, request)
  }

  function verifyNow(
    token: string,
    request?: VerificationRequest,
  ): VerifiedToken | Promise<VerifiedToken> {
    follower.maybeSync(request?.waitUntil)
    const stale = follower.prepare()
    if (stale === false) return verifyCurrent(token, request)
    if (stale === true) {
      if (follower.policy === 'closed') throw registryStale()
      return verifyCurrent(token, request)
    }
    return stale.then((isStale) => {
      if (isStale && follower.policy === 'closed') throw registryStale()
      return verifyCurrent(token, request)
    })
  }

  return {
    verifyNow,
    async verify(token, request) {
      return verifyNow(token, request)
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
