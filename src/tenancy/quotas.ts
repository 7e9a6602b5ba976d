/**
 * Per-tenant quotas (docs/tenancy.md, "Quotas"), answered 429 with `Retry-After` (RFC 6585 §4,
 * RFC 9110 §10.2.3) through the error hierarchy:
 *
 * - token mints per minute, at the origin, for every origin together: a fixed one-minute window
 *   counted in the tenant's namespace in L2 (`quota:mints:{minute}`). Checked before `/token` runs,
 *   counted when a token was issued, so refused and failed requests use none of it; concurrent
 *   requests may overshoot by at most their number.
 * - edge verifications per second, per isolate: a one-second window in memory, one comparison per
 *   request and no I/O (an L2 round trip per verification would cost more than the verification).
 *
 * Each tenant has its own counters, so one tenant at its quota never slows another.
 *
 * @example
 * const quota = createMintQuota({ store: tenantStore, limit: 600 })
 * await quota.check() // throws QuotaError when this minute's 600 are used
 */
import { GatehouseError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'

export type QuotaKind = 'token_mints' | 'verifications'

/** A tenant's quota is used up: 429 `temporarily_unavailable` with the wait in `Retry-After`. */
export class QuotaError extends GatehouseError {
  override readonly name: string = 'QuotaError'
  declare readonly code: 'quota_exceeded'
  readonly quota: QuotaKind

  constructor(quota: QuotaKind, retryAfterSeconds: number) {
    super({
      code: 'quota_exceeded',
      description:
        quota === 'token_mints'
          ? "The tenant's quota of tokens per minute is used up; retry later."
          : "The tenant's quota of verifications per second is used up; retry later.",
      status: 429,
      // RFC 6749 §4.1.2.1: "unable to handle the request due to a temporary overloading".
      rfcError: 'temporarily_unavailable',
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
    })
    this.quota = quota
  }
}

export interface MintQuota {
  readonly limit: number
  /** Throws `QuotaError` when this minute's mints have reached the limit. */
  check(): Promise<void>
  /** Counts one minted token. */
  count(): Promise<void>
}

/**
 * @example const quota = createMintQuota({ store: scopeStore(root, 'acme'), limit: 600 })
 */
export function createMintQuota(options: {
  store: Pick<Store, 'get' | 'increment'>
  limit: number
  now?: Clock
}): MintQuota {
  const { store, limit } = options
  const now = options.now ?? Date.now
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be positive')
  const window = () => Math.floor(now() / 60_000)
  const key = (minute: number) => `quota:mints:${minute}`
  return {
    limit,
    async check() {
      const minute = window()
      const used = Number((await store.get(key(minute))) ?? '0')
      if (used >= limit) throw new QuotaError('token_mints', ((minute + 1) * 60_000 - now()) / 1000)
    },
    async count() {
      // Two windows' lifetime: a counter is read until its minute ends, never after.
      await store.increment(key(window()), 120)
    },
  }
}

export interface VerificationQuota {
  readonly limit: number
  /** Counts one verification; throws `QuotaError` past the limit for this second. */
  take(): void
}

/**
 * @example const quota = createVerificationQuota({ limit: 1000 }); quota.take()
 */
export function createVerificationQuota(options: {
  limit: number
  now?: Clock
}): VerificationQuota {
  const { limit } = options
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be positive')
  return new PerSecondQuota(limit, options.now ?? Date.now)
}

/**
 * One class for every tenant's quota (not a closure per tenant): an edge's request path meets many
 * tenants' quotas and stays monomorphic.
 */
class PerSecondQuota implements VerificationQuota {
  readonly limit: number
  private readonly now: Clock
  private second = -1
  private used = 0

  constructor(limit: number, now: Clock) {
    this.limit = limit
    this.now = now
  }

  take(): void {
    const t = this.now()
    const current = Math.floor(t / 1000)
    if (current !== this.second) {
      this.second = current
      this.used = 0
    }
    if (this.used >= this.limit) {
      throw new QuotaError('verifications', ((current + 1) * 1000 - t) / 1000)
    }
    this.used++
  }
}
