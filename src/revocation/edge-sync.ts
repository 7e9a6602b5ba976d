// The edge's copy of the revocation filter and the loop that keeps it current (DESIGN.md, "Revocation
// with a stated staleness bound"). One instance per isolate. Workers have no timers across requests
// and `Date.now()` stands still inside a request until it does I/O, so syncs are started by requests:
// a request that finds the filter older than `syncSeconds` starts one inside `waitUntil` and does not
// wait for it. No promise is shared between requests (workerd forbids awaiting another request's I/O):
// a boolean and a timestamp say a sync is running.
//
// The bound. A sync that starts at time s and succeeds makes the filter cover every revocation
// committed before s. A request is decided on the filter as it is only while its age (now − s) is at
// most `boundSeconds` = syncSeconds + syncTimeout; an older filter (an isolate that sat idle) makes the
// request run a sync of its own first. So while L2 answers within the timeout, every revocation is
// enforced at this isolate no later than `boundSeconds` after it was written. When L2 does not answer,
// the last filter keeps serving and `status()` reports its age; past `maxStalenessSeconds` (or before
// any filter was loaded) the policy decides: 'open' keeps allowing filter misses and logs a warning,
// 'closed' rejects every token with 503 temporarily_unavailable.

import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import { compareStreamIds, readFeed, STREAM_START } from './feed.ts'
import { createRevocationFilter } from './filter.ts'
import type { FilterImplementation, RevocationFilter, SbbfBackend } from './filter.ts'
import { revocationKeys } from './records.ts'
import type { RevocationLogger } from './snapshot-builder.ts'
import { decodeSnapshotText } from './snapshot-codec.ts'

/** What to do when the filter is older than `maxStalenessSeconds` or was never loaded. */
export type RevocationPolicy = 'open' | 'closed'

export interface RevocationSyncOptions {
  store: Pick<Store, 'get' | 'readStream'>
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

export interface RevocationStatus {
  implementation: FilterImplementation | null
  policy: RevocationPolicy
  /** `now()` milliseconds when the last successful sync started, or null before the first. */
  lastSyncAt: number | null
  ageSeconds: number | null
  /** The stream id the filter covers. */
  streamId: string | null
  /** Ids in the filter (duplicates counted). */
  entries: number
  /** True past `maxStalenessSeconds` or before the first load: the policy is in force. */
  stale: boolean
  /** The documented worst case from revoke to enforcement while L2 answers. */
  boundSeconds: number
  /** Name of the last sync error, while syncs are failing. */
  lastError: string | null
}

export interface RevocationSync {
  readonly policy: RevocationPolicy
  readonly boundSeconds: number
  /** Changes whenever ids are added or the filter is replaced: L2 answers cached before are void. */
  readonly epoch: number
  /** Starts a background sync when one is due; never waits. Call it early in every request. */
  maybeSync(waitUntil?: (promise: Promise<unknown>) => void): void
  /**
   * Makes the filter usable for this request: `false` (fresh enough, the hot path), `true` (stale:
   * the policy applies) or a promise of either after a sync this request must wait for.
   */
  prepare(): boolean | Promise<boolean>
  /** Probes the filter; false when nothing is loaded. */
  has(item: string): boolean
  /** Runs one sync now and resolves whether it succeeded (tests, warm-up, operators). */
  syncNow(): Promise<boolean>
  status(): RevocationStatus
}

interface Loaded {
  filter: RevocationFilter
  /** The last stream id whose entry is in `filter`. */
  lastId: string
  /** `now()` when the snapshot was (re)loaded. */
  loadedAt: number
}

const detach = (promise: Promise<unknown>): void => void promise.catch(() => {})

class RevocationSyncTimeout extends Error {
  override readonly name = 'RevocationSyncTimeout'
}

function checkOptions(options: RevocationSyncOptions) {
  const syncSeconds = options.syncSeconds ?? 2
  const timeoutMs = options.syncTimeoutMs ?? 1000
  const maxStalenessSeconds = options.maxStalenessSeconds ?? 30
  const policy = options.policy ?? 'open'
  const reloadSeconds = options.snapshotReloadSeconds ?? 60
  const initialCapacity = options.initialCapacity ?? 100_000
  const maxPages = options.maxPagesPerSync ?? 10
  if (typeof options.store?.get !== 'function' || typeof options.store.readStream !== 'function') {
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

/**
 * Builds the per-isolate revocation state. Options are validated here, once.
 *
 * @example
 * const sync = createRevocationSync({ store, backend: loadSbbfBackend(), syncSeconds: 2 })
 * // per request, first thing:   sync.maybeSync((p) => ctx.waitUntil(p))
 * // per verified token:         see createRevocationCheck in ./revocation-check.ts
 */
export function createRevocationSync(options: RevocationSyncOptions): RevocationSync {
  const o = checkOptions(options)
  const { store, backend, logger } = options
  const now = options.now ?? Date.now
  const defaultWaitUntil = options.waitUntil ?? detach

  let current: Loaded | undefined
  let lastSuccessAt: number | undefined
  let lastFailureAt: number | undefined
  let lastError: string | undefined
  let behind = false
  let syncing: object | undefined // the running sync's token; a boolean that knows whose it is
  let syncStartedAt = 0
  let epoch = 0
  let staleWarned = false

  const ageAt = (t: number) => (lastSuccessAt === undefined ? Infinity : t - lastSuccessAt)
  const staleAt = (t: number) => current === undefined || ageAt(t) > o.maxStaleMs
  const failedRecently = (t: number) => lastFailureAt !== undefined && t - lastFailureAt < o.syncMs
  const due = (t: number) => (behind || ageAt(t) >= o.syncMs) && !failedRecently(t)
  const busy = (t: number) => syncing !== undefined && t - syncStartedAt < o.timeoutMs

  async function loadBase(startedAt: number): Promise<Loaded | undefined> {
    const text = await store.get(revocationKeys.snapshot)
    if (text !== null) {
      try {
        const { filter, streamId } = decodeSnapshotText(text, backend)
        return { filter, lastId: streamId, loadedAt: startedAt }
      } catch (error) {
        logger?.log({
          level: 'error',
          msg: 'revocation snapshot in L2 is invalid; reading the stream instead',
          errorName: error instanceof Error ? error.name : typeof error,
        })
      }
    }
    if (current !== undefined) {
      current.loadedAt = startedAt // nothing better to load: keep ours, try again later
      return undefined
    }
    const filter = createRevocationFilter({
      expectedItems: o.initialCapacity,
      ...(backend === undefined ? {} : { backend }),
    })
    return { filter, lastId: STREAM_START, loadedAt: startedAt }
  }

  async function syncOnce(startedAt: number, run: { cancelled: boolean }): Promise<void> {
    const base = current
    const fresh =
      base === undefined || startedAt - base.loadedAt >= o.reloadMs
        ? await loadBase(startedAt)
        : undefined
    const target = fresh ?? base
    if (target === undefined) return // unreachable: loadBase returns a filter when there is none
    const feed = await readFeed(store, target.lastId, o.maxPages)
    if (run.cancelled) return // timed out: a later sync owns the state now
    if (fresh !== undefined) {
      fresh.filter.addMany(feed.items)
      fresh.lastId = feed.lastId
      if (current === undefined || compareStreamIds(fresh.lastId, current.lastId) >= 0) {
        current = fresh
        epoch++
      }
    } else if (target === current) {
      if (feed.items.length > 0) {
        target.filter.addMany(feed.items)
        epoch++
      }
      if (compareStreamIds(feed.lastId, target.lastId) > 0) target.lastId = feed.lastId
    }
    behind = !feed.caughtUp
    if (feed.caughtUp && (lastSuccessAt === undefined || startedAt > lastSuccessAt)) {
      lastSuccessAt = startedAt
    }
  }

  async function runSync(startedAt: number): Promise<boolean> {
    const token = {}
    syncing = token
    syncStartedAt = startedAt
    const run = { cancelled: false }
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RevocationSyncTimeout('sync timed out')), o.timeoutMs)
    })
    try {
      await Promise.race([syncOnce(startedAt, run), timeout])
      if (lastError !== undefined) logger?.log({ level: 'info', msg: 'revocation sync recovered' })
      lastFailureAt = undefined
      lastError = undefined
      staleWarned = false
      return true
    } catch (error) {
      run.cancelled = true
      if (lastFailureAt === undefined || startedAt > lastFailureAt) lastFailureAt = startedAt
      const errorName = error instanceof Error ? error.name : typeof error
      // Once per failing episode: every isolate retries every syncSeconds.
      if (lastError === undefined) {
        logger?.log({ level: 'warn', msg: 'revocation sync failed', errorName })
      }
      lastError = errorName
      return false
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      if (syncing === token) syncing = undefined
    }
  }

  // In the background: a routine refresh (the filter is within the bound) or a retry while L2 is
  // failing. A filter past the bound with L2 healthy is refreshed by the request that needs it.
  function maybeSync(waitUntil: (promise: Promise<unknown>) => void = defaultWaitUntil): void {
    const t = now()
    if (!due(t) || busy(t)) return
    if (ageAt(t) > o.boundMs && lastError === undefined) return
    waitUntil(runSync(t))
  }

  return {
    policy: o.policy,
    boundSeconds: o.boundSeconds,
    get epoch() {
      return epoch
    },
    maybeSync,

    prepare() {
      const t = now()
      const age = ageAt(t)
      if (age < o.syncMs && !behind) return false
      if (age <= o.boundMs) {
        maybeSync()
        return false // age ≤ bound ≤ maxStaleness
      }
      // Older than the bound, or nothing loaded (an idle or new isolate): this request must not be
      // decided on what we hold, so it syncs first. While L2 is failing no request waits: retries
      // run in the background and the policy decides once the filter is past maxStaleness.
      if (lastError !== undefined) {
        maybeSync()
        return warnIfStale(t)
      }
      return runSync(t).then(() => warnIfStale(now()))
    },

    has(item) {
      return current !== undefined && current.filter.has(item)
    },

    syncNow: () => runSync(now()),

    status() {
      const t = now()
      const age = ageAt(t)
      return {
        implementation: current?.filter.implementation ?? null,
        policy: o.policy,
        lastSyncAt: lastSuccessAt ?? null,
        ageSeconds: age === Infinity ? null : age / 1000,
        streamId: current?.lastId ?? null,
        entries: current?.filter.insertedCount ?? 0,
        stale: staleAt(t),
        boundSeconds: o.boundSeconds,
        lastError: lastError ?? null,
      }
    },
  }

  function warnIfStale(t: number): boolean {
    const stale = staleAt(t)
    if (stale && !staleWarned) {
      staleWarned = true
      const age = ageAt(t)
      logger?.log({
        level: 'warn',
        msg:
          o.policy === 'open'
            ? 'revocation filter is stale: allowing tokens it does not list (policy open)'
            : 'revocation filter is stale: rejecting every token (policy closed)',
        ageSeconds: age === Infinity ? null : age / 1000,
      })
    }
    return stale
  }
}
