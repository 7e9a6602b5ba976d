// Options of the edge's revocation sync (./edge-sync.ts), validated once at construction.

import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import { createRevocationFilter } from './filter.ts'
import type { SbbfBackend } from './filter.ts'
import type { RevocationLogger } from './snapshot-builder.ts'

/** What to do when the filter is older than `maxStalenessSeconds` or was never loaded. */
export type RevocationPolicy = 'open' | 'closed'

export interface RevocationSyncOptions {
  store: Pick<Store, 'get' | 'readStream' | 'lastStreamEntry'>
  /** Where filter bits live: `loadSbbfBackend()` from src/wasm/load-worker.ts or load-node.ts. */
  backend?: SbbfBackend
  now?: Clock
  /** Shortest time between syncs, seconds. Default 2; 0.1 ..= 300. */
  syncSeconds?: number
  /** A sync slower than this counts as failed (and frees the slot for the next). Default 1000 ms. */
  syncTimeoutMs?: number
  /** Age past which the policy applies. Default 30; at least syncSeconds + syncTimeout. */
  maxStalenessSeconds?: number
  /** Default 'open' (see the README in this directory for the trade-off). */
  policy?: RevocationPolicy
  /** Reload the whole snapshot this often, dropping expired ids. Default 60 seconds. */
  snapshotReloadSeconds?: number
  /** Size of the empty filter used while no snapshot exists in L2. Default 100,000 ids. */
  initialCapacity?: number
  /** XRANGE pages of 1000 entries one sync may read. Default 10. */
  maxPagesPerSync?: number
  /** Keeps a background sync alive after the response; the Worker passes `ctx.waitUntil`. */
  waitUntil?: (promise: Promise<unknown>) => void
  logger?: RevocationLogger
}

/** Validated options in the units the sync works in (milliseconds). */
export interface SyncSettings {
  syncMs: number
  timeoutMs: number
  boundSeconds: number
  boundMs: number
  maxStaleMs: number
  policy: RevocationPolicy
  reloadMs: number
  initialCapacity: number
  maxPages: number
}

/**
 * Checks the options and converts them; throws TypeError or RangeError naming the option.
 *
 * @example resolveSyncOptions({ store }).boundSeconds // 3
 */
export function resolveSyncOptions(options: RevocationSyncOptions): SyncSettings {
  const syncSeconds = options.syncSeconds ?? 2
  const timeoutMs = options.syncTimeoutMs ?? 1000
  const maxStalenessSeconds = options.maxStalenessSeconds ?? 30
  const policy = options.policy ?? 'open'
  const reloadSeconds = options.snapshotReloadSeconds ?? 60
  const initialCapacity = options.initialCapacity ?? 100_000
  const maxPages = options.maxPagesPerSync ?? 10
  const { store } = options
  for (const method of ['get', 'readStream', 'lastStreamEntry'] as const) {
    if (typeof store?.[method] !== 'function')
      throw new TypeError('revocation sync: store required')
  }
  if (!(syncSeconds >= 0.1 && syncSeconds <= 300)) {
    throw new RangeError('syncSeconds must be between 0.1 and 300')
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 50 || timeoutMs > 60_000) {
    throw new RangeError('syncTimeoutMs must be an integer from 50 to 60000')
  }
  const boundSeconds = syncSeconds + timeoutMs / 1000
  if (!(maxStalenessSeconds >= boundSeconds && maxStalenessSeconds <= 86_400)) {
    throw new RangeError('maxStalenessSeconds must be at least syncSeconds + syncTimeout')
  }
  if (policy !== 'open' && policy !== 'closed') {
    throw new TypeError('policy must be "open" or "closed"')
  }
  if (!(reloadSeconds >= syncSeconds && reloadSeconds <= 86_400)) {
    throw new RangeError('snapshotReloadSeconds must be at least syncSeconds')
  }
  if (!Number.isInteger(maxPages) || maxPages < 1 || maxPages > 1000) {
    throw new RangeError('maxPagesPerSync must be an integer from 1 to 1000')
  }
  // Validates initialCapacity once, here.
  createRevocationFilter({ expectedItems: initialCapacity })
  return {
    syncMs: syncSeconds * 1000,
    timeoutMs,
    boundSeconds,
    boundMs: boundSeconds * 1000,
    maxStaleMs: maxStalenessSeconds * 1000,
    policy,
    reloadMs: reloadSeconds * 1000,
    initialCapacity,
    maxPages,
  }
}
