/**
 * The lease that lets one origin at a time perform the key schedule's steps (docs/keys.md): a value
 * naming its holder, with a TTL, taken with SET NX and extended or released with compare-and-swap.
 * The lease only keeps the work (generating keys) to one origin; safety does not rest on it: every
 * write of the key set is a compare-and-swap against the version read, so a holder that stalled past
 * its lease and wakes up cannot overwrite a newer set.
 *
 * @example
 * const lease = createKeyLease({ store, key: keySetStoreKeys(issuer).lease, holder: 'origin-a', ttlSeconds: 30 })
 * if (await lease.acquire()) try { await step() } finally { await lease.release() }
 */
import type { OAuthStore } from './store.ts'

export interface KeyLease {
  /** True when this holder has the lease now (taken, or still ours and extended). */
  acquire(): Promise<boolean>
  /** Gives the lease up if it is still ours. */
  release(): Promise<void>
}

export function createKeyLease(options: {
  store: Pick<OAuthStore, 'set' | 'compareAndSwap'>
  key: string
  holder: string
  ttlSeconds: number
}): KeyLease {
  const { store, key, holder, ttlSeconds } = options
  if (!(ttlSeconds > 0)) throw new RangeError('lease ttlSeconds must be positive')
  return {
    async acquire() {
      if (await store.set(key, holder, { ttlSeconds, ifAbsent: true })) return true
      return store.compareAndSwap(key, holder, holder, { ttlSeconds })
    },
    async release() {
      await store.compareAndSwap(key, holder, null)
    },
  }
}
