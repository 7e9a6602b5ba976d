/**
 * The DPoP replay cache (RFC 9449 §11.1): a proof's `jti` is accepted once per key for as long as the
 * proof could be accepted at all. Two levels, like verified tokens:
 *
 * - L1, per isolate or process: a bounded map of the `jti`s seen here, checked first, so a replay at
 *   the same place is refused without a network call.
 * - L2, the shared store: one atomic set-if-absent with a TTL of the proof window (`SET NX PX` on
 *   Redis). Only the first of any number of isolates, locations or origin processes to present a
 *   proof gets `true`; every other presentation, anywhere, gets `false` and is refused.
 *
 * While L2 is unreachable a replay at another isolate cannot be detected: each isolate knows only its
 * own L1. The policy decides what happens then: `open` accepts the proof on L1 alone (the replay
 * window is the proof window, at isolates that have not seen the proof), `closed` refuses with a 503
 * and `Retry-After`. Without any L2 (no store configured) L1 is all there is, which is `open`.
 * Store keys go through the Store, so a tenant-prefixed store view prefixes them too.
 *
 * @example
 * const replay = createDpopReplayCache({ store, windowSeconds: dpop.windowSeconds, policy: 'open' })
 * await replay.claim(proof.jkt, proof.jti) // throws AuthError on a replay
 */
import { AuthError } from './errors.ts'
import type { Clock } from './types.ts'

/** The one Store operation the cache uses; `Store` from src/store/types.ts satisfies it. */
export interface DpopReplayStore {
  set(key: string, value: string, options: { ttlSeconds: number; ifAbsent: true }): Promise<boolean>
}

/** What to do with a proof while L2 cannot be asked (see the module comment). */
export type DpopReplayPolicy = 'open' | 'closed'

export interface DpopReplayCacheOptions {
  /** L2; absent, the cache is L1 only. */
  store?: DpopReplayStore
  /** How long a `jti` is remembered: the checker's `windowSeconds`. */
  windowSeconds: number
  /** Default `open`. */
  policy?: DpopReplayPolicy
  /** L1 size. Default 100,000 (a few MB at most). */
  maxEntries?: number
  now?: Clock
  /** Told when L2 failed and the policy decided (for a log line); never told the jti. */
  onStoreFailure?: (error: unknown, decision: 'accepted' | 'refused') => void
}

export interface DpopReplayCache {
  /**
   * Records the proof's first use; rejects with `AuthError` `dpop_proof_invalid` when it was used
   * before, here or (through L2) anywhere, or `dpop_replay_unavailable` (503) when L2 is unreachable
   * and the policy is `closed`.
   */
  claim(jkt: string, jti: string): Promise<void>
}

/** The L2 key of one proof: per key, so no client can spend another's `jti`. */
export const dpopReplayKey = (jkt: string, jti: string): string => `dpop:jti:${jkt}:${jti}`

const replayed = () =>
  new AuthError('dpop_proof_invalid', 'the DPoP proof was already used', 'DPoP')

/**
 * Builds the cache; options are validated here.
 *
 * @example const replay = createDpopReplayCache({ windowSeconds: 65 }) // L1 only
 */
export function createDpopReplayCache(options: DpopReplayCacheOptions): DpopReplayCache {
  const { store, windowSeconds } = options
  if (!Number.isFinite(windowSeconds) || windowSeconds <= 0)
    throw new RangeError('windowSeconds must be a positive number')
  const policy = options.policy ?? 'open'
  if (policy !== 'open' && policy !== 'closed')
    throw new TypeError('policy must be "open" or "closed"')
  const maxEntries = options.maxEntries ?? 100_000
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('maxEntries must be a positive integer')
  const now = options.now ?? Date.now
  const windowMs = windowSeconds * 1000
  // Every entry lives exactly windowMs, so insertion order is expiry order: the oldest is first.
  const seen = new Map<string, number>()

  function remember(key: string, at: number): void {
    for (const [oldest, expiresAt] of seen) {
      if (expiresAt > at && seen.size < maxEntries) break
      // Expired, or the map is full: the oldest entry goes (L2 still holds it when L2 is up).
      seen.delete(oldest)
    }
    seen.set(key, at + windowMs)
  }

  return {
    async claim(jkt, jti) {
      const key = dpopReplayKey(jkt, jti)
      const at = now()
      const expiresAt = seen.get(key)
      if (expiresAt !== undefined && expiresAt > at) throw replayed()
      if (store === undefined) {
        remember(key, at)
        return
      }
      let first: boolean
      try {
        first = await store.set(key, '1', { ttlSeconds: windowSeconds, ifAbsent: true })
      } catch (error) {
        if (policy === 'closed') {
          options.onStoreFailure?.(error, 'refused')
          throw new AuthError(
            'dpop_replay_unavailable',
            'DPoP proofs cannot be checked for replay right now',
            'DPoP',
          )
        }
        options.onStoreFailure?.(error, 'accepted')
        // Another request of this isolate may have claimed it while we waited on L2.
        const meanwhile = seen.get(key)
        if (meanwhile !== undefined && meanwhile > now()) throw replayed()
        remember(key, now())
        return
      }
      remember(key, now())
      if (!first) throw replayed()
    },
  }
}
