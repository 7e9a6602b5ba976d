/**
 * Sign-in rate limits (RFC 9700 §4.16 spirit: slow down online guessing): a sliding window per key,
 * approximated from two fixed-window counters the way @upstash/ratelimit's `slidingWindow` does (the
 * previous window's count weighted by how much of it still overlaps), so a burst at a window boundary
 * cannot get twice the limit through. Every attempt counts, refused ones too: a client that keeps
 * hammering stays out until it stops.
 *
 * Why not @upstash/ratelimit itself: it drives an `@upstash/redis` client with Lua scripts (EVALSHA),
 * while sign-in runs on the Store contract, which also has the memory adapter used in development and
 * tests. Two Store calls (`increment`, `get`) are atomic on every adapter, so one code path serves all.
 *
 * A refusal carries the real wait: the seconds until one more attempt would fit in the window, the
 * login's `Retry-After` (RFC 6585 §4).
 *
 * @example
 * const limiter = createLoginLimiter({ store, clock: Date.now })
 * const decision = await limiter.hit('user', digest, { limit: 10, windowSeconds: 300 })
 * if (!decision.allowed) retryAfter(decision.retryAfterSeconds)
 */
import type { Clock } from '../types.ts'
import { keys, type OAuthStore } from './store.ts'

export interface LoginLimit {
  limit: number
  windowSeconds: number
}

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

export interface LoginLimiter {
  /** Counts one attempt for `kind`/`id` and says whether it is within `limit`. */
  hit(kind: string, id: string, limit: LoginLimit): Promise<LimitDecision>
}

export function createLoginLimiter(options: {
  store: Pick<OAuthStore, 'increment' | 'get'>
  clock: Clock
}): LoginLimiter {
  const { store, clock } = options
  return {
    async hit(kind, id, { limit, windowSeconds }) {
      // Whole milliseconds throughout: the weights are ratios of integers, so "fits" and the wait
      // are exact (floating weights put a refusal's wait a second late, or let an attempt through
      // a hair early).
      const window = windowSeconds * 1000
      const nowMs = Math.floor(clock())
      const index = Math.floor(nowMs / window)
      const elapsed = nowMs - index * window
      const key = (i: number) => `${keys.rateLimit(kind, id)}:${i}`
      // Kept two windows: the next window weighs this one.
      const [current, previousText] = await Promise.all([
        store.increment(key(index), 2 * windowSeconds),
        store.get(key(index - 1)),
      ])
      const previous = Number(previousText ?? 0) || 0
      // previous * (1 - elapsed / window) + current <= limit, multiplied through by window.
      if (previous * (window - elapsed) + current * window <= limit * window)
        return { allowed: true }
      const waitMs = msUntilRoom({ limit, window, elapsed, previous, current })
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
    },
  }
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b)

/**
 * The shortest wait (ms) after which one more attempt fits: later in this window as the previous
 * one's weight fades, or in the next window as this one's does; at most two windows. The estimate
 * never rises while no attempt is made, so every later moment fits too.
 */
export function msUntilRoom(s: {
  limit: number
  window: number
  elapsed: number
  previous: number
  current: number
}): number {
  const { limit, window: w, elapsed, previous, current } = s
  const room = limit - 1 // the attempt we wait for counts too
  let wait = 2 * w - elapsed
  // Same window: previous * (w - elapsed - d) <= (room - current) * w.
  if (current <= room && previous > 0) {
    const d = Math.max(0, ceilDiv(previous * (w - elapsed) - (room - current) * w, previous))
    if (elapsed + d < w) wait = Math.min(wait, d)
  }
  // Next window, d' into it: current * (w - d') <= room * w.
  const into = current <= room ? 0 : ceilDiv((current - room) * w, current)
  return Math.min(wait, w - elapsed + into)
}
