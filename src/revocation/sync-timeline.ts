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
