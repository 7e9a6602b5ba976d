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
 * follower.onRevocation = (id) => contexts.peek(id)?.context.revocation?.sync.ring()
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
  // Dirty until the first successful sync: revocations from before this isolate knew the tenant.
  let dirty = true

  const sync = (): Promise<boolean> => {
    dirty = false // a ring during the read sets it again
    return inner.syncNow().then((ok) => {
      if (!ok) dirty = true
      // Failed: the filter is as old as its last success; the inner policy applies past staleness.
      return ok ? false : inner.status().stale
    })
  }

  const afterView = (viewStale: boolean): boolean | Promise<boolean> => {
    if (!dirty) return viewStale
    return sync().then((stale) => stale || viewStale)
  }

  return {
    get policy() {
      return inner.policy
    },
    get boundSeconds() {
      return inner.boundSeconds
    },
    get epoch() {
      return inner.epoch
    },
    ring() {
      dirty = true
    },
    // Never on a timer: a sync happens when the doorbell rang, in the request that needs it.
    maybeSync() {},
    prepare() {
      const view = follower.prepare()
      return typeof view === 'boolean' ? afterView(view) : view.then(afterView)
    },
    has: (item) => inner.has(item),
    syncNow: () => sync().then((stale) => !stale),
    status: () => inner.status(),
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
