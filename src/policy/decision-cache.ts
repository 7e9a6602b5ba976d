/**
 * The L1 decision cache: decisions by (tenant, version, action, resource, principal with its
 * attributes, the context attributes the policies read), bounded. A decision is a pure function of
 * that key, so entries never go stale; a new version has new keys and the old ones age out.
 *
 * Eviction is first-in first-out: a hit does not move its entry. Moving one means deleting and
 * re-inserting a `Map` key, which V8 makes slow for a hot key (src/cache/token-cache.ts measured it),
 * and a decision is cheap enough to recompute after eviction.
 */

export interface CachedDecision {
  decision: 'allow' | 'deny'
  /** Ids of the policies that determined the decision. */
  policies: readonly string[]
  /** Ids of the policies that failed to evaluate (Cedar skips them). */
  errors: readonly string[]
}

export interface DecisionCache {
  get(key: string): CachedDecision | undefined
  set(key: string, decision: CachedDecision): void
  readonly size: number
}

export const DEFAULT_DECISION_CACHE_ENTRIES = 10_000
/** Keys longer than this are not cached (a token with huge claims must not fill memory). */
const MAX_KEY_LENGTH = 8192

/**
 * @example
 * const cache = createDecisionCache({ maxEntries: 10_000 })
 * cache.set(key, { decision: 'allow', policies: ['read-docs'], errors: [] })
 */
export function createDecisionCache(options: { maxEntries?: number } = {}): DecisionCache {
  const maxEntries = options.maxEntries ?? DEFAULT_DECISION_CACHE_ENTRIES
  if (!Number.isInteger(maxEntries) || maxEntries < 0) {
    throw new RangeError('decision cache maxEntries must be a non-negative integer')
  }
  const entries = new Map<string, CachedDecision>()
  return {
    get: (key) => entries.get(key),
    set(key, decision) {
      if (maxEntries === 0 || key.length > MAX_KEY_LENGTH || entries.has(key)) return
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string)
      entries.set(key, Object.freeze({ ...decision }))
    },
    get size() {
      return entries.size
    },
  }
}
