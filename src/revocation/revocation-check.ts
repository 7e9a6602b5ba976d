// The per-token revocation decision at the edge: probe the filter for the token's `jti`, `sid` and
// `sub`; a miss on all three allows with no network call; a hit is confirmed against its record in
// L2, with the answer cached briefly. It runs after signature and claims verification AND after an L1
// cache hit: the cache holds verified tokens, not "still not revoked" answers.

import { AuthError } from '../core/errors.ts'
import type { Clock, VerifiedToken } from '../core/types.ts'
import type { AccessTokenVerifier } from '../core/verify.ts'
import type { InlineVerifier } from '../cache/cached-verifier.ts'
import type { Store } from '../store/types.ts'
import type { RevocationSync } from './edge-sync.ts'
import {
  createRevocationReader,
  filterItem,
  isRevocableId,
  isRevokedBy,
  type RevocationReader,
  type RevocationClaims,
  type RevocationKind,
} from './records.ts'

export interface RevocationCheckOptions {
  sync: RevocationSync
  /** Where hits are confirmed: the same L2 the writer uses. */
  store: Pick<Store, 'get'>
  now?: Clock
  /**
   * How long a confirmed answer (revoked or not) is reused, ms; 0..1000, default 1000. Answers are
   * also dropped whenever the filter changes, so the cache never delays a new revocation.
   */
  answerCacheTtlMs?: number
  /** Bound on cached answers per isolate. Default 10,000. */
  answerCacheMaxEntries?: number
}

/** Resolves (or returns undefined, the hot path) when the token may pass; throws an AuthError. */
export type RevocationCheck = (verified: VerifiedToken) => Promise<void> | undefined

interface Answer {
  value: string | null
  epoch: number
  expiresAt: number
}

const MAX_ID_LENGTH = 512
const probable = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH

const revoked = () => new AuthError('token_revoked', 'the access token has been revoked')
const unavailable = () =>
  new AuthError('revocation_unavailable', 'revocation status is temporarily unavailable')

/**
 * Builds `checkRevocation(verified)`. It throws `AuthError('token_revoked')` (401 invalid_token,
 * RFC 6750 §3.1) for a revoked token, and `AuthError('revocation_unavailable')` (503, retry) when
 * the filter is stale under policy 'closed' or a filter hit cannot be confirmed because L2 is down:
 * a hit is evidence, so even policy 'open' does not wave it through unconfirmed.
 *
 * @example
 * const checkRevocation = createRevocationCheck({ sync, store })
 * const verified = await verifier.verify(token)
 * await checkRevocation(verified)
 */
export function createRevocationCheck(options: RevocationCheckOptions): RevocationCheck {
  const checker = new RevocationChecker(options)
  return (verified) => checker.check(verified)
}

/**
 * The filter changes only together with `sync.epoch`, so a token that missed at this epoch misses
 * again: an L1 hit (the same claims object) skips the four probes. Keyed weakly: entries go with the
 * cache's. One map for every checker (an edge holds one per tenant), each entry naming its checker:
 * an L1 hit then reads one table and the entry made beside the token, not a table per tenant.
 */
const missed = new WeakMap<object, { checker: RevocationChecker; epoch: number }>()

/**
 * The same check as an object, for code that holds one per tenant: every instance shares one class,
 * so a request path that meets many tenants' checkers stays monomorphic (no closure per instance).
 *
 * @example
 * const checker = new RevocationChecker({ sync, store })
 * const pending = checker.check(verified)
 * if (pending !== undefined) await pending
 */
export class RevocationChecker {
  private readonly sync: RevocationSync
  private readonly now: Clock
  private readonly ttlMs: number
  private readonly maxEntries: number
  private readonly reader: RevocationReader
  private readonly answers = new Map<string, Answer>()

  constructor(options: RevocationCheckOptions) {
    const { sync } = options
    const ttlMs = options.answerCacheTtlMs ?? 1000
    const maxEntries = options.answerCacheMaxEntries ?? 10_000
    if (typeof sync?.prepare !== 'function') throw new TypeError('revocation check: sync required')
    if (!Number.isInteger(ttlMs) || ttlMs < 0 || ttlMs > 1000) {
      throw new RangeError('answerCacheTtlMs must be an integer from 0 to 1000')
    }
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 1_000_000) {
      throw new RangeError('answerCacheMaxEntries must be an integer from 1 to 1000000')
    }
    this.sync = sync
    this.now = options.now ?? Date.now
    this.ttlMs = ttlMs
    this.maxEntries = maxEntries
    this.reader = createRevocationReader({ store: options.store })
  }

  /** Resolves (or returns undefined, the hot path) when the token may pass; throws an AuthError. */
  check(verified: VerifiedToken): Promise<void> | undefined {
    const stale = this.sync.prepare()
    const { claims, header } = verified
    if (typeof stale === 'boolean') return this.decide(claims, header.kid, stale)
    return stale.then((s) => this.decide(claims, header.kid, s))
  }

  private decide(
    claims: RevocationClaims,
    kid: unknown,
    stale: boolean,
  ): Promise<void> | undefined {
    const { sync } = this
    if (stale && sync.policy === 'closed') throw unavailable()
    const epoch = sync.epoch
    const miss = missed.get(claims)
    if (miss !== undefined && miss.checker === this && miss.epoch === epoch) return undefined
    let hits: RevocationKind[] | undefined
    const { jti, sid, sub } = claims
    if (probable(jti) && sync.has(`jti:${jti}`)) (hits ??= []).push('jti')
    if (probable(sid) && sync.has(`sid:${sid}`)) (hits ??= []).push('sid')
    if (probable(sub) && sync.has(`sub:${sub}`)) (hits ??= []).push('sub')
    if (probable(kid) && sync.has(`kid:${kid}`)) (hits ??= []).push('kid')
    // The signing key's id is in the header: on a hit, confirmed alongside the claims.
    if (hits !== undefined)
      return this.confirm(kid === undefined ? claims : { ...claims, kid }, hits)
    if (miss?.checker === this) miss.epoch = epoch
    else missed.set(claims, { checker: this, epoch })
    return undefined
  }

  private async confirm(claims: RevocationClaims, hits: RevocationKind[]): Promise<void> {
    const values = await Promise.all(hits.map((kind) => this.lookup(kind, claims[kind] as string)))
    for (let i = 0; i < hits.length; i++) {
      if (isRevokedBy(hits[i] as RevocationKind, values[i] ?? null, claims)) throw revoked()
    }
  }

  private async lookup(kind: RevocationKind, id: string): Promise<string | null> {
    // The writer refuses ids that are not well-formed, so such an id cannot have been revoked.
    if (!isRevocableId(id)) return null
    const { sync, answers } = this
    const key = filterItem(kind, id)
    const cached = answers.get(key)
    if (cached !== undefined && cached.epoch === sync.epoch && cached.expiresAt > this.now()) {
      return cached.value
    }
    const epoch = sync.epoch
    let value: string | null
    try {
      value = await this.reader.read(kind, id)
    } catch {
      throw unavailable()
    }
    // Not cached when the filter changed during the read: the answer may predate a revocation.
    if (this.ttlMs > 0 && epoch === sync.epoch) {
      answers.delete(key)
      if (answers.size >= this.maxEntries) answers.delete(answers.keys().next().value as string)
      answers.set(key, { value, epoch, expiresAt: this.now() + this.ttlMs })
    }
    return value
  }
}

/**
 * Wraps a verifier (usually the L1-cached one) so every successful verification, cached or not, is
 * also checked for revocation.
 *
 * @example
 * const verifier = withRevocationCheck(createCachedVerifier(core, cache), checkRevocation)
 */
export function withRevocationCheck(
  verifier: AccessTokenVerifier & Partial<Pick<InlineVerifier, 'verifyNow' | 'isCached'>>,
  check: RevocationCheck,
): InlineVerifier {
  // An L1 hit whose probes all miss is checked without a promise (`verifyNow`), as fast as the
  // cache itself; a filter hit (confirmed in L2) or a verification that was a promise stays one.
  const checked = (verified: VerifiedToken): VerifiedToken | Promise<VerifiedToken> => {
    const pending = check(verified)
    return pending === undefined ? verified : pending.then(() => verified)
  }
  const verifyNow = (token: string): VerifiedToken | Promise<VerifiedToken> => {
    const verified = verifier.verifyNow ? verifier.verifyNow(token) : verifier.verify(token)
    return verified instanceof Promise ? verified.then(checked) : checked(verified)
  }
  return {
    verifyNow,
    // Membership says nothing of revocation: `verifyNow` still checks every token it answers.
    ...(verifier.isCached === undefined ? {} : { isCached: verifier.isCached }),
    async verify(token) {
      return verifyNow(token)
    },
  }
}
