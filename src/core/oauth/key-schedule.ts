/**
 * The key schedule as pure transformations of the key-set document (src/core/published-key-set.ts):
 * what the scheduled steps are due at a moment, and the operator's rotate / retire / revoke. No I/O
 * and no crypto: callers generate keys and write the result with compare-and-swap (key-lifecycle.ts,
 * src/cli/keys.ts), so the same rules hold for the origin's timer, the CLI and the model test.
 *
 * The rules:
 * - a new key is published `prePublishSeconds` before it signs (never less than twice the verifiers'
 *   cache lifetime), so every edge and every third-party cache holds it when it starts signing;
 * - a key signs for `periodSeconds`; its successor is scheduled (published) `prePublishSeconds` before
 *   that, and activation happens by the clock (no write needed at that moment);
 * - a superseded key stays published for `retainSeconds` after its successor activates (at least the
 *   longest token lifetime plus leeway and clock skew), then leaves the JWKS and is pruned;
 * - a revoked key leaves at once; if it was signing, a replacement signs from the same second.
 *
 * @example
 * const due = dueSteps(doc, now, policy)
 * if (due.create) doc = scheduleKey(doc, await newRecord(due.create), now, policy)
 */
import {
  activeKeyAt,
  keyStatusAt,
  type KeyRecord,
  type KeySetDocument,
} from '../published-key-set.ts'
import type { SigningAlgorithm } from './config.ts'
import { SKEW_ALLOWANCE_SECONDS } from './key-lifecycle-config.ts'

/** The schedule's parameters, in seconds (key-rotation-config.ts documents the defaults). */
export interface RotationPolicy {
  alg: SigningAlgorithm
  periodSeconds: number
  prePublishSeconds: number
  retainSeconds: number
  cacheSeconds: number
}

/** What the schedule needs at a moment. */
export interface DueSteps {
  /** A key to generate, publish at `publishAt` and activate at `activateAt`. */
  create?: { publishAt: number; activateAt: number }
  /** Kids to drop from the document (retired, or revoked longer ago than the retention). */
  prune: string[]
}

/** An operator request the schedule refuses; `message` says why and what to do instead. */
export class KeyScheduleError extends Error {
  override readonly name = 'KeyScheduleError'
}

/** Shortest lead for a manual rotation: twice the longest verifier cache lifetime. */
export const minimumLeadSeconds = (policy: Pick<RotationPolicy, 'cacheSeconds'>): number =>
  2 * policy.cacheSeconds

/** The key the chain ends with: the live key activating last (a `next` key, or the active one). */
function lastScheduled(doc: KeySetDocument, now: number): KeyRecord | undefined {
  let last: KeyRecord | undefined
  for (const key of doc.keys) {
    if (key.revokedAt !== undefined || (key.retireAt !== undefined && key.retireAt <= now)) continue
    if (!last || key.activateAt > last.activateAt) last = key
  }
  return last
}

/**
 * The scheduled steps due at `now`: a first key when none signs, a successor once the last key is
 * within `prePublishSeconds` of the end of its period, and keys to prune. Idempotent: after the
 * steps are applied, nothing is due until the next boundary.
 *
 * @example dueSteps(doc, Date.now() / 1000, policy) // { create: { publishAt, activateAt }, prune: [] }
 */
export function dueSteps(
  doc: KeySetDocument | undefined,
  now: number,
  policy: RotationPolicy,
): DueSteps {
  // A key that must sign at once is dated back by the skew allowance, so a process whose clock runs
  // behind the writer's does not see it as "next" (and, finding nothing active, create another).
  const atOnce = now - SKEW_ALLOWANCE_SECONDS
  if (!doc) return { create: { publishAt: atOnce, activateAt: atOnce }, prune: [] }
  const prune = doc.keys
    .filter(
      (k) =>
        (k.retireAt !== undefined && k.retireAt <= now) ||
        (k.revokedAt !== undefined && k.revokedAt + policy.retainSeconds <= now),
    )
    .map((k) => k.kid)
  if (!activeKeyAt(doc, now)) {
    // Nothing signs (a fresh store, or every key revoked): a key that signs at once.
    return { create: { publishAt: atOnce, activateAt: atOnce }, prune }
  }
  const last = lastScheduled(doc, now)
  if (last && now >= last.activateAt + policy.periodSeconds - policy.prePublishSeconds) {
    // Late (every origin was down): activation moves out, the lead is never cut short.
    const activateAt = Math.max(
      last.activateAt + policy.periodSeconds,
      now + policy.prePublishSeconds,
    )
    return { create: { publishAt: now, activateAt }, prune }
  }
  return { prune }
}

/**
 * Recomputes every live key's `retireAt` from the activations after it: a key leaves the JWKS
 * `retainSeconds` after the first later key activates (a key revoked before it activated never
 * superseded anything). Keys already retired keep their time.
 */
function withRetireTimes(keys: KeyRecord[], now: number, retainSeconds: number): KeyRecord[] {
  const activations = keys
    .filter((k) => k.revokedAt === undefined || k.revokedAt >= k.activateAt)
    .map((k) => k.activateAt)
  return keys.map((key) => {
    if (key.retireAt !== undefined && key.retireAt <= now) return key
    let successor = Infinity
    for (const t of activations) if (t > key.activateAt && t < successor) successor = t
    const next = { ...key }
    if (successor === Infinity) delete next.retireAt
    else next.retireAt = successor + retainSeconds
    return next
  })
}

const replaceKeys = (
  doc: KeySetDocument,
  keys: KeyRecord[],
  now: number,
  policy: Pick<RotationPolicy, 'retainSeconds'>,
): KeySetDocument => ({ ...doc, keys: withRetireTimes(keys, now, policy.retainSeconds) })

/**
 * Adds a new key (its `publishAt`/`activateAt` already set) and re-times the keys it supersedes.
 *
 * @example doc = scheduleKey(doc, record, now, policy)
 */
export function scheduleKey(
  doc: KeySetDocument,
  record: KeyRecord,
  now: number,
  policy: Pick<RotationPolicy, 'retainSeconds'>,
): KeySetDocument {
  if (doc.keys.some((k) => k.kid === record.kid))
    throw new KeyScheduleError(`a key with kid "${record.kid}" already exists`)
  return replaceKeys(doc, [...doc.keys, record], now, policy)
}

/** Drops pruned keys. */
export function pruneKeys(doc: KeySetDocument, kids: readonly string[]): KeySetDocument {
  if (kids.length === 0) return doc
  return { ...doc, keys: doc.keys.filter((k) => !kids.includes(k.kid)) }
}

function find(doc: KeySetDocument, kid: string): KeyRecord {
  const key = doc.keys.find((k) => k.kid === kid)
  if (!key) throw new KeyScheduleError(`no key with kid "${kid}"`)
  return key
}

/**
 * Manual rotation: the `next` key (if there is one and its algorithm is wanted) activates at
 * `activateAt` instead of its scheduled time; otherwise the caller's `fresh` key is added to activate
 * then, and a pending `next` key of another algorithm is dropped (it never signed). `activateAt` may
 * not be sooner than the minimum lead after the key was published.
 *
 * @example doc = rotateKeys(doc, now, now + 600, policy, freshRecord)
 */
export function rotateKeys(
  doc: KeySetDocument,
  now: number,
  activateAt: number,
  policy: RotationPolicy,
  fresh: KeyRecord | undefined,
): { doc: KeySetDocument; kid: string; activateAt: number } {
  const lead = minimumLeadSeconds(policy)
  const upcoming = doc.keys.filter((k) => keyStatusAt(doc, k, now) === 'next')
  const reusable = upcoming.find((k) => k.alg === (fresh?.alg ?? policy.alg))
  if (reusable && reusable.publishAt + lead <= activateAt) {
    const others = upcoming.filter((k) => k !== reusable).map((k) => k.kid)
    const keys = doc.keys
      .filter((k) => !others.includes(k.kid))
      .map((k) => (k === reusable ? { ...k, activateAt } : k))
    return { doc: replaceKeys(doc, keys, now, policy), kid: reusable.kid, activateAt }
  }
  if (!fresh)
    throw new KeyScheduleError('a new key is needed for this rotation (none is published yet)')
  if (activateAt < now + lead)
    throw new KeyScheduleError(
      `a new key must be published ${lead} s (twice the verifiers' cache lifetime) before it signs`,
    )
  const dropped = upcoming.map((k) => k.kid)
  const keys = [...doc.keys.filter((k) => !dropped.includes(k.kid)), fresh]
  return {
    doc: replaceKeys(doc, keys, now, policy),
    kid: fresh.kid,
    activateAt: fresh.activateAt,
  }
}

/**
 * When every token a key signed has expired: its successor's activation (or now, for a key that never
 * signed) plus the longest token lifetime and the leeway. Undefined for the active key.
 */
export function lastTokenExpiry(
  doc: KeySetDocument,
  key: KeyRecord,
  now: number,
  tokenLifetimeSeconds: number,
): number | undefined {
  const status = keyStatusAt(doc, key, now)
  if (status === 'active') return undefined
  if (status === 'pending' || status === 'next') return now
  const successor = doc.keys
    .filter((k) => k.activateAt > key.activateAt && k.activateAt <= now)
    .reduce((t, k) => Math.min(t, k.activateAt), Infinity)
  return (successor === Infinity ? now : successor) + tokenLifetimeSeconds
}

/**
 * Takes a key out of the JWKS now. A `next` key is dropped (it never signed); a `retiring` key is
 * retired only once every token it signed has expired, unless `force`; the active key is refused
 * (rotate first, or revoke it if it is compromised).
 *
 * @example retireKey(doc, 'k-2026-01', now, { tokenLifetimeSeconds: 960, force: false }, policy)
 */
export function retireKey(
  doc: KeySetDocument,
  kid: string,
  now: number,
  options: { tokenLifetimeSeconds: number; force: boolean },
  policy: Pick<RotationPolicy, 'retainSeconds'>,
): { doc: KeySetDocument; liveUntil: number } {
  const key = find(doc, kid)
  const status = keyStatusAt(doc, key, now)
  if (status === 'active')
    throw new KeyScheduleError(
      `"${kid}" is the active key: rotate first (gatehouse keys rotate), or revoke it if it is compromised`,
    )
  if (status === 'revoked' || status === 'retired')
    throw new KeyScheduleError(`"${kid}" is already ${status}`)
  if (status === 'pending' || status === 'next')
    return {
      doc: replaceKeys(
        doc,
        doc.keys.filter((k) => k.kid !== kid),
        now,
        policy,
      ),
      liveUntil: now,
    }
  const liveUntil = lastTokenExpiry(doc, key, now, options.tokenLifetimeSeconds) ?? now
  if (liveUntil > now && !options.force)
    throw new KeyScheduleError(
      `"${kid}" signed tokens that are valid for up to ${liveUntil - now} s more; retiring it now ` +
        'makes them fail verification everywhere. Wait, or pass --force',
    )
  const keys = doc.keys.map((k) => (k.kid === kid ? { ...k, retireAt: now } : k))
  return { doc: { ...doc, keys }, liveUntil }
}

/**
 * Compromise: the key is marked revoked (out of the JWKS at once). If it was the signing key, the
 * `next` key signs from now on, or, with none, the caller's `replacement` (published and active now).
 *
 * @example const { doc, signing } = revokeKey(doc, 'k-2026-01', now, replacement, policy)
 */
export function revokeKey(
  doc: KeySetDocument,
  kid: string,
  now: number,
  replacement: KeyRecord | undefined,
  policy: Pick<RotationPolicy, 'retainSeconds'>,
): { doc: KeySetDocument; signing: string | undefined; wasActive: boolean } {
  const key = find(doc, kid)
  if (key.revokedAt !== undefined) throw new KeyScheduleError(`"${kid}" is already revoked`)
  const wasActive = keyStatusAt(doc, key, now) === 'active'
  let keys = doc.keys.map((k) => (k.kid === kid ? { ...k, revokedAt: now } : k))
  let signing = wasActive ? undefined : activeKeyAt(doc, now)?.kid
  if (wasActive) {
    const upcoming = keys
      .filter((k) => k.revokedAt === undefined && k.publishAt <= now && k.activateAt > now)
      .sort((a, b) => a.activateAt - b.activateAt)[0]
    if (upcoming) {
      keys = keys.map((k) => (k === upcoming ? { ...k, activateAt: now } : k))
      signing = upcoming.kid
    } else if (replacement) {
      keys.push({ ...replacement, publishAt: now, activateAt: now })
      signing = replacement.kid
    } else {
      throw new KeyScheduleError('revoking the active key needs a replacement key')
    }
  }
  return { doc: replaceKeys(doc, keys, now, policy), signing, wasActive }
}
