/**
 * A tenant's revocation at the edge without an L2 read per tenant per sync interval (docs/tenancy.md,
 * "Revocation"). Each tenant has its own stream and filter, but an isolate does not poll every
 * tenant's stream: every revocation in a tenant also rings a doorbell, an entry naming the tenant on
 * the registry's change stream (`ringRevocationDoorbell`), which the registry follower already reads
 * on the revocation schedule. A tenant's filter is synced only when its doorbell rang (or on its
 * first request in this isolate), in the request that needs it. So an isolate's L2 reads grow with
 * the revocations it must learn about, not with the number of tenants it serves.
 *
 * The bound is the revocation bound. A revocation is acknowledged only once its doorbell is in L2; a
 * request is decided only on a registry view younger than the bound (the follower's `prepare`), so a
 * revocation older than the bound has rung this tenant dirty, and the request syncs the tenant's
 * filter before it is checked.
 *
 * @example
 * const revocation = tenantRevocation({ sync: createRevocationSync({ store }), store, doorbell: follower })
 * follower.onRevocation = (id) => contexts.peek(id)?.context.revocation?.ring()
 */
import type { Clock, VerifiedToken } from '../core/types.ts'
import type { RevocationSync } from '../revocation/edge-sync.ts'
import type { RevocationFilter } from '../revocation/filter.ts'
import { RevocationChecker } from '../revocation/revocation-check.ts'
import { revocationKeys } from '../revocation/records.ts'
import type { Store } from '../store/types.ts'
import { PASS_ALL, SLOW, type TenantHitTable } from './hit-table.ts'
import type { RegistryFollower } from './registry-follower.ts'
import { CHANGES_MAX_LENGTH, registryKeys } from './registry-keys.ts'
import type { TenantId } from './tenant-id.ts'

export interface TenantRevocationSync extends RevocationSync {
  /** The doorbell rang: the next request of the tenant syncs its filter first. */
  ring(): void
}

/**
 * A tenant's revocation at the edge in one object: its filter's sync and the per-token check
 * (`RevocationChecker`), with a shortcut for a token seen before. An L1 hit then reads this one object
 * of its tenant, not a gate, a checker, the inner sync and a table of missed tokens (each a different
 * object per tenant: spread over many tenants, every one of them was another cache miss).
 */
export interface TenantRevocation {
  /** The tenant's revocation sync (for status and tests). */
  readonly sync: RevocationSync
  /** The filter's epoch: it changes whenever the filter does. */
  readonly epoch: number
  /** Starts a background sync when one is due (never for a gated tenant: see below). */
  maybeSync(waitUntil?: (promise: Promise<unknown>) => void): void
  /**
   * True when the token's probes would all miss now, so it passes without probing: the filter may be
   * used as it is (no sync due first) and either holds no id at all (a tenant with nothing revoked)
   * or is still at filter epoch `missedAt`, when the token's probes last all missed (-1: never).
   * The caller decided the registry view may be used (the gate's staleness is the view's). False
   * means: run `check`.
   */
  wouldMiss(missedAt: number): boolean
  /** The per-token check: undefined (passes now), a promise, or a throw (`RevocationChecker.check`). */
  check(verified: VerifiedToken): Promise<void> | undefined
  /** The tenant's doorbell rang (a no-op for a sync that polls on its own). */
  ring(): void
  /**
   * The tenant's slot in an edge's `TenantHitTable`, opened on first use, where this object keeps
   * its state for L1 hits (hit-table.ts); -1 when it has none (a polled sync, another table, or
   * retired).
   */
  hitSlot(table: TenantHitTable): number
  /** The tenant was dropped: closes its hit slot, for good. */
  retire(): void
}

/**
 * The revocation of a tenant: gated by the registry's doorbell when `doorbell` is given (a
 * registered tenant: its filter synced only when a revocation rang, see above), else its own `sync`
 * polled as usual (the default tenant's, shared with the rest of the app).
 *
 * @example
 * const revocation = tenantRevocation({ sync: createRevocationSync({ store }), store, doorbell: follower })
 * if (!revocation.wouldMiss(missedAt)) await revocation.check(verified)
 */
export function tenantRevocation(parts: {
  sync: RevocationSync
  /** Where filter hits are confirmed: the tenant's view of L2. */
  store: Pick<Store, 'get'>
  doorbell?: Pick<RegistryFollower, 'prepare'>
  now?: Clock
}): TenantRevocation {
  const now = parts.now ?? Date.now
  return parts.doorbell
    ? new GatedRevocation(parts.sync, parts.doorbell, parts.store, now)
    : new PolledRevocation(parts.sync, parts.store, now)
}

/**
 * Wraps a tenant's own revocation sync: fresh while the registry view is (its staleness is the
 * view's), synced in the request when its doorbell rang, never on a timer. It is the sync its own
 * checker uses, so gate, checker and shortcut are one object.
 *
 * A class, not an object literal with getters: every tenant's gate shares one hidden class and one
 * set of methods, so the request path stays monomorphic however many tenants it meets.
 */
class GatedRevocation implements TenantRevocationSync, TenantRevocation {
  // Dirty until the first successful sync: revocations from before this isolate knew the tenant.
  private dirty = true
  /** The filter holds no id (as of the last sync, which only this gate runs). */
  private empty = false
  /**
   * The inner sync's epoch, copied after each of its syncs (only this gate runs them: its
   * `maybeSync` and `prepare` are never called), so a hit reads it here without the inner object.
   */
  epoch: number
  readonly policy: RevocationSync['policy']
  readonly boundSeconds: number
  private readonly inner: RevocationSync
  private readonly follower: Pick<RegistryFollower, 'prepare'>
  private readonly checker: RevocationChecker
  /** Where L1 hits read this tenant's state (hit-table.ts); -1 until asked for, and once retired. */
  private table: TenantHitTable | undefined
  private slot = -1
  private retired = false

  constructor(
    inner: RevocationSync,
    follower: Pick<RegistryFollower, 'prepare'>,
    store: Pick<Store, 'get'>,
    now: Clock,
  ) {
    this.inner = inner
    this.follower = follower
    this.epoch = inner.epoch
    this.policy = inner.policy
    this.boundSeconds = inner.boundSeconds
    this.checker = new RevocationChecker({ sync: this, store, now })
  }

  get sync(): RevocationSync {
    return this
  }

  ring(): void {
    this.dirty = true
    this.publish()
  }

  hitSlot(table: TenantHitTable): number {
    if (this.retired || (this.table !== undefined && this.table !== table)) return -1
    if (this.slot < 0) {
      this.table = table
      this.slot = table.open()
      this.publish()
    }
    return this.slot
  }

  retire(): void {
    this.retired = true
    if (this.slot >= 0) this.table?.close(this.slot)
    this.slot = -1
  }

  /** What a hit may skip, for the hit table: exactly what `wouldMiss` answers from these fields. */
  private publish(): void {
    if (this.slot < 0) return
    this.table?.publish(this.slot, this.dirty ? SLOW : this.empty ? PASS_ALL : this.epoch)
  }

  // Never on a timer: a sync happens when the doorbell rang, in the request that needs it.
  maybeSync(): void {}

  wouldMiss(missedAt: number): boolean {
    return !this.dirty && (this.empty || this.epoch === missedAt)
  }

  check(verified: VerifiedToken): Promise<void> | undefined {
    return this.checker.check(verified)
  }

  prepare(): boolean | Promise<boolean> {
    const view = this.follower.prepare()
    return typeof view === 'boolean' ? this.afterView(view) : view.then((v) => this.afterView(v))
  }

  has(item: string): boolean {
    return this.inner.has(item)
  }

  filter(): RevocationFilter | undefined {
    return this.inner.filter()
  }

  syncNow(): Promise<boolean> {
    return this.syncInner().then((stale) => !stale)
  }

  status() {
    return this.inner.status()
  }

  private afterView(viewStale: boolean): boolean | Promise<boolean> {
    if (!this.dirty) return viewStale
    return this.syncInner().then((stale) => stale || viewStale)
  }

  private syncInner(): Promise<boolean> {
    this.dirty = false // a ring during the read sets it again
    this.publish()
    return this.inner.syncNow().then((ok) => {
      this.epoch = this.inner.epoch
      // Ids are added only by a sync (a failed one too: what it read is kept), so this holds until
      // the next one. Probing an empty filter misses whatever the id: no probe needed.
      this.empty = this.inner.status().entries === 0
      if (!ok) this.dirty = true
      this.publish()
      // Failed: the filter is as old as its last success; the inner policy applies past staleness.
      return ok ? false : this.inner.status().stale
    })
  }
}

/** A sync that polls on its own schedule (the default tenant's): no shortcut, the checker decides. */
class PolledRevocation implements TenantRevocation {
  readonly sync: RevocationSync
  private readonly checker: RevocationChecker

  constructor(sync: RevocationSync, store: Pick<Store, 'get'>, now: Clock) {
    this.sync = sync
    this.checker = new RevocationChecker({ sync, store, now })
  }

  get epoch(): number {
    return this.sync.epoch
  }

  maybeSync(waitUntil?: (promise: Promise<unknown>) => void): void {
    this.sync.maybeSync(waitUntil)
  }

  // Whether this sync needs a sync first is its own `prepare`'s call, made once, inside `check`.
  wouldMiss(): boolean {
    return false
  }

  check(verified: VerifiedToken): Promise<void> | undefined {
    return this.checker.check(verified)
  }

  ring(): void {}

  // Its own `prepare` decides on every request: no state a hit could read instead.
  hitSlot(): number {
    return -1
  }

  retire(): void {}
}

/**
 * Rings tenant `tenant`'s revocation doorbell on the registry's change stream (the root store).
 *
 * @example await ringRevocationDoorbell(rootStore, 'acme')
 */
export async function ringRevocationDoorbell(
  store: Pick<Store, 'appendToStream'>,
  tenant: TenantId,
): Promise<void> {
  await store.appendToStream(
    registryKeys.changes,
    { kind: 'revocation', id: tenant },
    { maxLength: CHANGES_MAX_LENGTH },
  )
}

/**
 * A tenant's store view for its revocation writer: every append to its revocation stream also rings
 * its doorbell before it resolves, so `/revoke` acknowledges only a revocation edges will hear of.
 *
 * @example createOAuthRevoker({ store: withRevocationDoorbell(tenantStore, rootStore, 'acme') })
 */
export function withRevocationDoorbell(tenantStore: Store, root: Store, tenant: TenantId): Store {
  return {
    ...tenantStore,
    async appendToStream(stream, fields, options) {
      const id = await tenantStore.appendToStream(stream, fields, options)
      if (stream === revocationKeys.stream) await ringRevocationDoorbell(root, tenant)
      return id
    },
  }
}
