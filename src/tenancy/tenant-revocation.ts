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
 * const revocation = gateTenantRevocation(createRevocationSync({ store: tenantStore }), follower)
 * follower.onRevocation = (id) => contexts.peek(id)?.context.revocationSync.ring()
 */
import type { RevocationSync } from '../revocation/edge-sync.ts'
import { revocationKeys } from '../revocation/records.ts'
import type { Store } from '../store/types.ts'
import type { RegistryFollower } from './registry-follower.ts'
import { CHANGES_MAX_LENGTH, registryKeys } from './registry-keys.ts'
import type { TenantId } from './tenant-id.ts'

export interface TenantRevocationSync extends RevocationSync {
  /** The doorbell rang: the next request of the tenant syncs its filter first. */
  ring(): void
}

/**
 * Wraps a tenant's own revocation sync: fresh while the registry view is (its staleness is the
 * view's), synced in the request when its doorbell rang, never on a timer.
 *
 * @example const sync = gateTenantRevocation(createRevocationSync({ store }), follower)
 */
export function gateTenantRevocation(
  inner: RevocationSync,
  follower: Pick<RegistryFollower, 'prepare'>,
): TenantRevocationSync {
  return new GatedRevocationSync(inner, follower)
}

/**
 * A class, not an object literal with getters: every tenant's gate then shares one hidden class and
 * one set of methods, so the request path's property reads and calls stay monomorphic however many
 * tenants' gates it meets (with literals, each gate had its own accessors and shape, and spreading
 * traffic over more tenants made those sites megamorphic: bench/tenancy.bench.ts).
 */
class GatedRevocationSync implements TenantRevocationSync {
  // Dirty until the first successful sync: revocations from before this isolate knew the tenant.
  private dirty = true
  /**
   * The inner sync's epoch, copied after each of its syncs (only this gate runs them: its
   * `maybeSync` and `prepare` are never called), so an L1 hit reads it here without touching the
   * inner object.
   */
  epoch: number
  private readonly inner: RevocationSync
  private readonly follower: Pick<RegistryFollower, 'prepare'>

  constructor(inner: RevocationSync, follower: Pick<RegistryFollower, 'prepare'>) {
    this.inner = inner
    this.follower = follower
    this.epoch = inner.epoch
  }

  get policy() {
    return this.inner.policy
  }
  get boundSeconds() {
    return this.inner.boundSeconds
  }

  ring(): void {
    this.dirty = true
  }

  // Never on a timer: a sync happens when the doorbell rang, in the request that needs it.
  maybeSync(): void {}

  prepare(): boolean | Promise<boolean> {
    const view = this.follower.prepare()
    return typeof view === 'boolean' ? this.afterView(view) : view.then((v) => this.afterView(v))
  }

  has(item: string): boolean {
    return this.inner.has(item)
  }

  syncNow(): Promise<boolean> {
    return this.sync().then((stale) => !stale)
  }

  status() {
    return this.inner.status()
  }

  private afterView(viewStale: boolean): boolean | Promise<boolean> {
    if (!this.dirty) return viewStale
    return this.sync().then((stale) => stale || viewStale)
  }

  private sync(): Promise<boolean> {
    this.dirty = false // a ring during the read sets it again
    return this.inner.syncNow().then((ok) => {
      this.epoch = this.inner.epoch
      if (!ok) this.dirty = true
      // Failed: the filter is as old as its last success; the inner policy applies past staleness.
      return ok ? false : this.inner.status().stale
    })
  }
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
