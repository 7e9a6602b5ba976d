/**
 * A circuit breaker for the edge → origin hop: after `failureThreshold` consecutive failures it opens
 * for `openSeconds`, during which callers are refused without touching the origin; then it lets exactly
 * one probe through (half-open). The probe's success closes it, its failure re-opens it. A result
 * counts only in the period it was admitted in: a call that times out after the breaker opened or
 * closed again is stale evidence and moves nothing.
 *
 * State is plain numbers in the isolate (or process) that created it: no timers, no promises, nothing
 * awaited across requests (DESIGN.md, L1: nothing shared as an in-flight promise on Workers). Time comes
 * from an injected clock, so tests move it instead of sleeping.
 */
import type { Clock } from '../core/types.ts'

export type BreakerState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: number
  /** How long it stays open before one probe may pass. Default 30. */
  openSeconds?: number
  /**
   * A probe that has not reported within this many seconds is presumed lost (its request was cancelled
   * before it could report) and another probe may go. Default 10; set it above the request timeout.
   */
  probeLeaseSeconds?: number
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: Clock
}

/**
 * What `admit()` decided; hand it back to `record()` so only the probe's outcome moves half-open, and
 * only results of the current period (since the breaker last opened or closed) count.
 */
export type Admission =
  { allowed: true; probe: boolean; period: number } | { allowed: false; retryAfterSeconds: number }

export interface CircuitBreaker {
  admit(): Admission
  /** Reports the outcome of an admitted call. */
  record(admission: Admission, ok: boolean): void
  /** An admitted call ended without saying anything about the origin (the client left): a probe slot is freed. */
  release(admission: Admission): void
  readonly state: BreakerState
}

export const DEFAULT_FAILURE_THRESHOLD = 5
export const DEFAULT_OPEN_SECONDS = 30
export const DEFAULT_PROBE_LEASE_SECONDS = 10

function positive(name: string, value: number, integer: boolean): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
    throw new TypeError(
      `createCircuitBreaker: ${name} must be a positive ${integer ? 'integer' : 'number'}`,
    )
  return value
}

/**
 * Builds a breaker; options are checked here, once.
 *
 * @example
 * const breaker = createCircuitBreaker({ failureThreshold: 5, openSeconds: 30 })
 * const admission = breaker.admit()
 * if (!admission.allowed) return unavailable(admission.retryAfterSeconds)
 * const ok = await callOrigin().then((r) => r.status < 502, () => false)
 * breaker.record(admission, ok)
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const threshold = positive(
    'failureThreshold',
    options.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
    true,
  )
  const openMs = positive('openSeconds', options.openSeconds ?? DEFAULT_OPEN_SECONDS, false) * 1000
  const leaseMs =
    positive('probeLeaseSeconds', options.probeLeaseSeconds ?? DEFAULT_PROBE_LEASE_SECONDS, false) *
    1000
  const now = options.now ?? Date.now

  let failures = 0
  // When `openUntil` is set the breaker is open until then and half-open after it.
  let openUntil: number | undefined
  let probeSince: number | undefined
  // Bumped whenever the breaker opens or closes: a call admitted before that reports stale evidence.
  let period = 0

  const open = (at: number): void => {
    openUntil = at + openMs
    probeSince = undefined
    period += 1
  }
  const secondsUntil = (at: number, t: number): number => Math.max(1, Math.ceil((at - t) / 1000))

  return {
    get state(): BreakerState {
      if (openUntil === undefined) return 'closed'
      return now() < openUntil ? 'open' : 'half-open'
    },

    admit(): Admission {
      if (openUntil === undefined) return { allowed: true, probe: false, period }
      const t = now()
      if (t < openUntil) return { allowed: false, retryAfterSeconds: secondsUntil(openUntil, t) }
      if (probeSince !== undefined && t - probeSince < leaseMs) {
        // One probe at a time; the next chance is when this one's lease runs out at the latest.
        return { allowed: false, retryAfterSeconds: secondsUntil(probeSince + leaseMs, t) }
      }
      probeSince = t
      return { allowed: true, probe: true, period }
    },

    release(admission: Admission): void {
      if (admission.allowed && admission.probe) probeSince = undefined
    },

    record(admission: Admission, ok: boolean): void {
      if (!admission.allowed) return
      if (admission.probe) {
        // A probe whose lease ran out may report after a newer probe took over; the newest result
        // wins either way, which is the freshest evidence about the origin.
        if (openUntil === undefined) return
        if (ok) {
          openUntil = undefined
          probeSince = undefined
          failures = 0
          period += 1
        } else {
          open(now())
        }
        return
      }
      // Late results of calls admitted before the breaker last opened or closed do not move it: while
      // open only probes do, and a call that timed out during an outage must not reopen the breaker
      // a successful probe has just closed.
      if (openUntil !== undefined || admission.period !== period) return
      if (ok) {
        failures = 0
        return
      }
      failures += 1
      if (failures >= threshold) {
        failures = 0
        open(now())
      }
    },
  }
}
