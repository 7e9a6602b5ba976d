// The edge's copy of the revocation filter and the loop that keeps it current (DESIGN.md, "Revocation
// with a stated staleness bound"). One instance per isolate. Workers have no timers across requests
// and `Date.now()` stands still inside a request until it does I/O, so syncs are started by requests:
// a request that finds the filter older than `syncSeconds` starts one inside `waitUntil` and does not
// wait for it. No promise is shared between requests (workerd forbids awaiting another request's I/O).
//
// The bound. A sync that starts at time s and succeeds makes the filter cover every revocation
// acknowledged before s: the writer acknowledges only once record and event are in L2 (records.ts),
// the stream is read from the primary, and a read counts only when it is proven gap-free (feed.ts).
// A request is decided on the filter as it is only while its age (now − s) is at most `boundSeconds`
// = syncSeconds + syncTimeout; an older filter (an isolate that sat idle) makes the request run a
// sync of its own first. So while L2 answers within the timeout, every revocation is enforced at
// this isolate no later than `boundSeconds` after it was acknowledged. When L2 does not answer, the
// last filter keeps serving and `status()` reports its age; past `maxStalenessSeconds` (or before any
// filter was loaded) the policy decides: 'open' keeps allowing filter misses and logs a warning,
// 'closed' rejects every token with 503 temporarily_unavailable.
//
// The parts: sync-options.ts (validation), sync-timeline.ts (when syncs ran, failed, are due),
// edge-filter.ts (the filter, its cursor and the one way to extend it), feed.ts (reading the stream).

import { compareStreamIds, readFeed, type FeedRead } from './feed.ts'
import type { FilterImplementation, RevocationFilter } from './filter.ts'
import { emptyFilter, extendFilter, loadSnapshot, type CoveredFilter } from './edge-filter.ts'
import {
  resolveSyncOptions,
  type RevocationPolicy,
  type RevocationSyncOptions,
} from './sync-options.ts'
import { prepareRequest, SyncTimeline } from './sync-timeline.ts'

export type { RevocationPolicy, RevocationSyncOptions } from './sync-options.ts'

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
  /**
   * The filter `has` probes, undefined before the first load: a reload replaces it, a stream read
   * adds to the same one in place (tests read it to tell which happened).
   */
  filter(): RevocationFilter | undefined
  /** Runs one sync now and resolves whether it succeeded (tests, warm-up, operators). */
  syncNow(): Promise<boolean>
  status(): RevocationStatus
}

const detach = (promise: Promise<unknown>): void => void promise.catch(() => {})

class RevocationSyncTimeout extends Error {
  override readonly name = 'RevocationSyncTimeout'
}

/** The stream lost events after our cursor before we read them, and no snapshot covers them yet. */
class RevocationStreamGap extends Error {
  override readonly name = 'RevocationStreamGap'
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
  const settings = resolveSyncOptions(options)
  const { store, backend, logger } = options
  // Read at call time (not captured), so a test's fake clock (vi.setSystemTime) reaches it.
  const now = options.now ?? (() => Date.now())
  const defaultWaitUntil = options.waitUntil ?? detach
  const timeline = new SyncTimeline(settings)
  let current: CoveredFilter | undefined

  /** What to read the stream onto after a reload: the snapshot, else ours, else an empty filter. */
  async function reloadBase(t: number): Promise<CoveredFilter> {
    const snapshot = await loadSnapshot(
      { store, ...(backend ? { backend } : {}), ...(logger ? { logger } : {}) },
      t,
    )
    if (snapshot !== undefined) return snapshot
    if (current !== undefined) {
      current.loadedAt = t // nothing better to load: keep ours, try again later
      return current
    }
    return emptyFilter(settings.initialCapacity, backend, t)
  }

  async function readOnto(
    base: CoveredFilter,
  ): Promise<{ base: CoveredFilter; from: string; feed: FeedRead }> {
    const from = base.lastId
    return { base, from, feed: await readFeed(store, from, settings.maxPages) }
  }

  /** One sync: read the stream onto the filter (or a reloaded snapshot) and keep the result. */
  async function syncOnce(startedAt: number, run: { cancelled: boolean }): Promise<void> {
    const reloadDue = current === undefined || startedAt - current.loadedAt >= settings.reloadMs
    let read = await readOnto(reloadDue ? await reloadBase(startedAt) : (current as CoveredFilter))
    if (!read.feed.complete) {
      // Events after that cursor were trimmed before they were read: try the other starting point.
      const other = read.base === current ? await reloadBase(startedAt) : current
      if (other !== undefined && other !== read.base) read = await readOnto(other)
    }
    if (run.cancelled) return // timed out: a later sync owns the state now
    const { base, from, feed } = read
    if (!feed.complete) {
      // Every id read is a real revocation, so keep them; but move no cursor and claim no freshness.
      if (current !== undefined && feed.items.length > 0) {
        current.filter.addMany(feed.items)
        sync.epoch++
      }
      throw new RevocationStreamGap('revocation stream trimmed past every snapshot')
    }
    const added = extendFilter(base, from, feed)
    if (base === current) {
      if (added) sync.epoch++
    } else if (current === undefined || compareStreamIds(base.lastId, current.lastId) >= 0) {
      current = base // a reloaded snapshot plus its tail: drops expired ids
      sync.epoch++
    } // else another sync moved `current` further meanwhile: it covers more, keep it
    timeline.behind = !feed.caughtUp
    // `current` now covers the stream up to the newest entry the read saw (gap-free): fresh as of
    // the sync's start, unless the read stopped at maxPages.
    if (feed.caughtUp) timeline.covered(startedAt)
  }

  async function runSync(startedAt: number): Promise<boolean> {
    const token = timeline.started(startedAt)
    const run = { cancelled: false }
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RevocationSyncTimeout('sync timed out')),
        settings.timeoutMs,
      )
    })
    try {
      await Promise.race([syncOnce(startedAt, run), timeout])
      if (timeline.succeeded()) logger?.log({ level: 'info', msg: 'revocation sync recovered' })
      return true
    } catch (error) {
      run.cancelled = true
      const errorName = error instanceof Error ? error.name : typeof error
      // Once per failing episode: every isolate retries every syncSeconds.
      if (timeline.failed(startedAt, errorName)) {
        logger?.log({ level: 'warn', msg: 'revocation sync failed', errorName })
      }
      return false
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      timeline.finished(token)
    }
  }

  // In the background: a routine refresh while the filter is within the bound. A filter past the
  // bound is refreshed by the request that needs it (prepare).
  function maybeSync(waitUntil: (promise: Promise<unknown>) => void = defaultWaitUntil): void {
    const t = now()
    if (!timeline.dueAt(t) || timeline.busyAt(t)) return
    if (timeline.ageAt(t) > settings.boundMs) return
    waitUntil(runSync(t))
  }

  function warnIfStale(t: number): boolean {
    const stale = current === undefined || timeline.staleAt(t)
    if (stale && !timeline.staleWarned) {
      timeline.staleWarned = true
      const age = timeline.ageAt(t)
      logger?.log({
        level: 'warn',
        msg:
          settings.policy === 'open'
            ? 'revocation filter is stale: allowing tokens it does not list (policy open)'
            : 'revocation filter is stale: rejecting every token (policy closed)',
        ageSeconds: age === Infinity ? null : age / 1000,
      })
    }
    return stale
  }

  // `epoch` is a plain field (bumped above), not a getter: an object literal with a getter gets a
  // hidden class of its own per instance, so code reading many instances' epochs (an edge with many
  // tenants, each with its own sync) went megamorphic. Fields keep every instance on one shape.
  const sync: Omit<RevocationSync, 'epoch'> & { epoch: number } = {
    policy: settings.policy,
    boundSeconds: settings.boundSeconds,
    epoch: 0,
    maybeSync,

    prepare: () =>
      prepareRequest(timeline, settings, now(), {
        background: () => maybeSync(),
        sync: runSync,
        stale: warnIfStale,
        now,
      }),

    has(item) {
      return current !== undefined && current.filter.has(item)
    },

    filter: () => current?.filter,

    syncNow: () => runSync(now()),

    status() {
      const t = now()
      const age = timeline.ageAt(t)
      return {
        implementation: current?.filter.implementation ?? null,
        policy: settings.policy,
        lastSyncAt: timeline.lastSyncAt ?? null,
        ageSeconds: age === Infinity ? null : age / 1000,
        streamId: current?.lastId ?? null,
        entries: current?.filter.insertedCount ?? 0,
        stale: current === undefined || timeline.staleAt(t),
        boundSeconds: settings.boundSeconds,
        lastError: timeline.lastError ?? null,
      }
    },
  }
  return sync
}
