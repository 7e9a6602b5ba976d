// When the edge's revocation sync last succeeded and failed, whether one is running, and what that
// means for the next request (./edge-sync.ts). No I/O: only timestamps from the injected clock.
// Workers forbid sharing a promise between requests, so a running sync is a token plus the time it
// started, not a promise; a sync older than the timeout no longer counts as running.

import type { SyncSettings } from './sync-options.ts'

export class SyncTimeline {
  private lastSuccessAt: number | undefined
  private lastFailureAt: number | undefined
  private errorName: string | undefined
  private running: object | undefined
  private runningSince = 0
  /** The last sync read only part of a long backlog: the next one is due at once. */
  behind = false
  /** A stale warning was logged in the current failing episode. */
  staleWarned = false

  private readonly settings: SyncSettings

  constructor(settings: SyncSettings) {
    this.settings = settings
  }

  get lastSyncAt(): number | undefined {
    return this.lastSuccessAt
  }

  get lastError(): string | undefined {
    return this.errorName
  }

  /** Milliseconds since the start of the last successful sync; Infinity before the first. */
  ageAt(t: number): number {
    return this.lastSuccessAt === undefined ? Infinity : t - this.lastSuccessAt
  }

  /** Past maxStaleness: the policy decides. */
  staleAt(t: number): boolean {
    return this.ageAt(t) > this.settings.maxStaleMs
  }

  /** A sync started less than syncSeconds ago failed: the next try waits for syncSeconds. */
  failedRecentlyAt(t: number): boolean {
    return this.lastFailureAt !== undefined && t - this.lastFailureAt < this.settings.syncMs
  }

  /** A sync is due: the filter is older than syncSeconds (or behind) and none failed just now. */
  dueAt(t: number): boolean {
    return (this.behind || this.ageAt(t) >= this.settings.syncMs) && !this.failedRecentlyAt(t)
  }

  busyAt(t: number): boolean {
    return this.running !== undefined && t - this.runningSince < this.settings.timeoutMs
  }

  /** Marks a sync as running; pass the token to `finished`. */
  started(t: number): object {
    const token = {}
    this.running = token
    this.runningSince = t
    return token
  }

  finished(token: object): void {
    if (this.running === token) this.running = undefined
  }

  /** A sync that started at `startedAt` covered the stream: the filter is fresh as of then. */
  covered(startedAt: number): void {
    if (this.lastSuccessAt === undefined || startedAt > this.lastSuccessAt) {
      this.lastSuccessAt = startedAt
    }
  }

  /** Resolves true when this ends a failing episode. */
  succeeded(): boolean {
    const recovered = this.errorName !== undefined
    this.lastFailureAt = undefined
    this.errorName = undefined
    this.staleWarned = false
    return recovered
  }

  /** Resolves true when this starts a failing episode (log once). */
  failed(startedAt: number, errorName: string): boolean {
    if (this.lastFailureAt === undefined || startedAt > this.lastFailureAt) {
      this.lastFailureAt = startedAt
    }
    const first = this.errorName === undefined
    this.errorName = errorName
    return first
  }
}

/**
 * What a request does before it is decided on synced state (the revocation filter, the tenant
 * registry's view): `false` when the state is fresh (starting a background sync once it is due),
 * else a sync it waits for, after which `stale(now)` says whether the policy applies. Older than the
 * bound, or nothing loaded (an idle or new isolate), the request must not be decided on what we hold,
 * so it syncs first. Only while a sync failed less than syncSeconds ago does it go ahead on what we
 * hold (L2 is failing: at most one request per isolate and syncSeconds waits, at most the timeout),
 * and the policy decides past maxStaleness. So once L2 has answered for syncSeconds, no request is
 * decided on state older than the bound, even on an isolate that saw an outage and then sat idle.
 *
 * @example prepare: () => prepareRequest(timeline, settings, now(), { background, sync, stale })
 */
export function prepareRequest(
  timeline: SyncTimeline,
  settings: Pick<SyncSettings, 'syncMs' | 'boundMs'>,
  t: number,
  steps: {
    background: () => void
    sync: (t: number) => Promise<unknown>
    stale: (t: number) => boolean
    now: () => number
  },
): boolean | Promise<boolean> {
  const age = timeline.ageAt(t)
  if (age < settings.syncMs && !timeline.behind) return false
  if (age <= settings.boundMs) {
    steps.background()
    return false // age ≤ bound ≤ maxStaleness
  }
  if (timeline.failedRecentlyAt(t)) return steps.stale(t)
  return steps.sync(t).then(() => steps.stale(steps.now()))
}
