/**
 * The edge's key source (issue 12, edge availability): the key set the origins publish in L2
 * (published-key-set.ts), cached per isolate, with the origin's JWKS as the fallback used only while
 * L2 has nothing for this issuer. So:
 *
 * - origin down, cold isolate: the keys come from L2, tokens verify;
 * - L2 down, warm isolate: the cached set keeps verifying (a `next` key in it activates by the clock),
 *   and `status()` says the copy is stale and why;
 * - L2 and origin down, cold isolate: `jwks_unavailable`, a 503 with Retry-After, never an acceptance.
 *
 * Rules:
 * - the set is re-read when older than `refreshSeconds` (default 60), or than the set's own
 *   `cacheSeconds` if shorter: keys are published twice that long before they sign, so a copy
 *   refreshed that often holds every key before its first token arrives;
 * - an unknown kid re-reads at once (at most every `unknownKidCooldownSeconds`, default 1: one small
 *   GET); while L2 cannot be read, or another request's read is in flight, an unknown kid is
 *   `jwks_unavailable` (503, retry), not `kid_unknown` (401): it may be a key published since;
 * - while no set is held yet, concurrent first requests each read (none is refused for another's read);
 * - a read slower than `timeoutMs` counts as failed and none is retried within
 *   `failureCooldownSeconds`, so an L2 outage costs one slow request per isolate per cooldown — or
 *   within half the copy's refresh period when that is shorter (a set's `cacheSeconds` may be
 *   1 s). A key is published twice the refresh period before it signs; the refresh that should
 *   bring it starts up to one period after its publication, and if that read fails after the full
 *   `timeoutMs` (a busy L2), the retry half a period after its start still ends before the key's
 *   first token. A retry one whole period later would start just as the key signs, and its tokens
 *   would meet a read in flight (503) — seen once in the fleet-rotation test under load, round 16;
 * - a revoked or retired key is never used;
 * - like the remote key set, no promise outlives the tick it was made in (workerd forbids sharing
 *   I/O between requests).
 *
 * @example
 * const keys = createPublishedKeySource({ issuer, read: () => store.get(keySetStoreKeys(issuer).document) })
 * const verifier = createAccessTokenVerifier({ issuer, audience, keys })
 */
import { AuthError } from './errors.ts'
import type { KeySet, VerificationKey } from './jwks.ts'
import { buildKeys, selectKey } from './key-selection.ts'
import { SIGNING_ALGS } from './keys.ts'
import {
  isVerifiableAt,
  parseKeySetDocument,
  type KeyRecord,
  type KeySetDocument,
} from './published-key-set.ts'
import type { Clock } from './types.ts'

export interface PublishedKeySourceOptions {
  issuer: string
  /** Reads the raw key-set document from L2 (null when absent). */
  read: () => Promise<string | null>
  /** Where keys come from while L2 has no set for this issuer: the origin's JWKS, or an inline set. */
  fallback?: KeySet
  refreshSeconds?: number
  unknownKidCooldownSeconds?: number
  failureCooldownSeconds?: number
  timeoutMs?: number
  now?: Clock
}

/** What `/revocation/status` and the metrics report about the keys. */
export interface KeySourceStatus {
  /** `l2`: the published set; `origin`: the fallback (L2 had nothing); null: no keys yet. */
  source: 'l2' | 'origin' | null
  /** Version of the published set in use. */
  version: number | null
  /** Seconds since the set in use was read. */
  ageSeconds: number | null
  /** True while reads of L2 fail: the keys in use are the last good copy. */
  stale: boolean
  /** Kind of the last failure, while failing (`unreachable`, `timeout`, `damaged`, `issuer`). */
  lastError: string | null
  refreshSeconds: number
}

export interface PublishedKeySource extends KeySet {
  /** The published set in use, loading it if none is (for the JWKS and discovery routes). */
  document(): Promise<KeySetDocument | undefined>
  status(): KeySourceStatus
  /** True when L2's last answer was that it holds no set for this issuer (and none is loaded). */
  notPublished(): boolean
}

interface Loaded {
  doc: KeySetDocument
  keys: { record: KeyRecord; key: VerificationKey }[]
  loadedAt: number
  /** The keys that verify now (not retired), worked out again only once a retirement is due. */
  usable: VerificationKey[]
  /** Seconds: from when `usable` must be worked out again (the next retirement; -1: now). */
  usableUntil: number
  /** Milliseconds after `loadedAt` at which the copy is due a refresh. */
  refreshAfter: number
}

class ReadTimeout extends Error {
  override readonly name = 'ReadTimeout'
}

/** Reads of L2 that found nothing usable for this issuer. */
type Outcome = 'ok' | 'absent' | 'unreachable' | 'timeout' | 'damaged' | 'issuer'

export function createPublishedKeySource(options: PublishedKeySourceOptions): PublishedKeySource {
  const now = options.now ?? (() => Date.now())
  const refreshMs = (options.refreshSeconds ?? 60) * 1000
  const unknownKidMs = (options.unknownKidCooldownSeconds ?? 1) * 1000
  const failureMs = (options.failureCooldownSeconds ?? 5) * 1000
  const timeoutMs = options.timeoutMs ?? 1000
  if (!(refreshMs > 0 && unknownKidMs >= 0 && failureMs >= 0 && timeoutMs > 0))
    throw new RangeError('published key source: intervals must be positive')
  const imported = new Map<string, VerificationKey>()

  let loaded: Loaded | undefined
  let lastAttemptAt = -Infinity
  let lastOutcome: Outcome | undefined
  let sameTick: Promise<void> | undefined
  /** Whether the fallback answered the last time it was asked (for `status()`). */
  let fallbackServed = false
  /** Start of a load in flight (another request's: its promise cannot be shared). */
  let loadingSince: number | undefined
  /** Loads in flight: a cold isolate's concurrent first requests each read (see ensureLoaded). */
  let loadsInFlight = 0

  async function importRecord(record: KeyRecord): Promise<VerificationKey | undefined> {
    const id = `${record.kid}\n${JSON.stringify(record.jwk)}`
    const hit = imported.get(id)
    if (hit) return hit
    try {
      const [key] = await buildKeys(
        { keys: [record.jwk] },
        { supported: SIGNING_ALGS, mode: 'strict' },
      )
      if (key) imported.set(id, key as VerificationKey)
      return key as VerificationKey | undefined
    } catch {
      return undefined // an unusable key is skipped, as in a fetched JWKS
    }
  }

  async function readDocument(): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await Promise.race([
        options.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ReadTimeout('key set read timed out')), timeoutMs)
        }),
      ])
    } finally {
      if (timer !== undefined) clearTimeout(timer)
    }
  }

  async function load(): Promise<void> {
    const startedAt = now()
    lastAttemptAt = startedAt
    loadingSince = startedAt
    loadsInFlight++
    try {
      await loadFrom(startedAt)
    } finally {
      if (--loadsInFlight === 0) loadingSince = undefined
    }
  }

  async function loadFrom(startedAt: number): Promise<void> {
    let raw: string | null
    try {
      raw = await readDocument()
    } catch (e) {
      lastOutcome = e instanceof ReadTimeout ? 'timeout' : 'unreachable'
      return
    }
    const doc = parseKeySetDocument(raw)
    if (!doc) {
      lastOutcome = raw === null ? 'absent' : 'damaged'
      return
    }
    if (doc.issuer !== options.issuer) {
      lastOutcome = 'issuer'
      return
    }
    if (loaded && doc.version < loaded.doc.version) {
      lastOutcome = 'ok'
      return
    }
    const keys: Loaded['keys'] = []
    for (const record of doc.keys) {
      if (record.revokedAt !== undefined) continue
      const key = await importRecord(record)
      if (key) keys.push({ record, key })
    }
    loaded = {
      doc,
      keys,
      loadedAt: startedAt,
      usable: [],
      usableUntil: -1,
      // The set says how long verifiers may keep it (keys are published twice that long before
      // they sign), so a copy refreshed that often holds every key before its first token arrives.
      refreshAfter: Math.min(refreshMs, doc.cacheSeconds * 1000),
    }
    source.forget()
    lastOutcome = 'ok'
  }

  function loadOncePerTick(): Promise<void> {
    if (sameTick === undefined) {
      sameTick = load()
      queueMicrotask(() => {
        sameTick = undefined
      })
    }
    return sameTick
  }

  const failing = () =>
    lastOutcome !== undefined && lastOutcome !== 'ok' && lastOutcome !== 'absent'
  const since = (t: number) => now() - t
  /** After a failed read: the cooldown, at most half the held copy's refresh period (see the header). */
  const failureWait = () => (loaded ? Math.min(failureMs, loaded.refreshAfter / 2) : failureMs)

  /** Loads when nothing is loaded or the copy is old, unless the last attempt failed recently. */
  async function ensureLoaded(): Promise<void> {
    // Cold, and another request's first read is still in flight: its promise cannot be shared
    // (workerd), and refusing would answer a burst of first requests (a cold isolate, a new
    // tenant) with 503s. So this request reads too: one small GET each, only until a set is held.
    if (!loaded && loadsInFlight > 0 && !failing()) return loadOncePerTick()
    const cooling = failing()
      ? since(lastAttemptAt) < failureWait()
      : since(lastAttemptAt) < unknownKidMs
    if (cooling) return
    if (!loaded || since(loaded.loadedAt) >= loaded.refreshAfter) await loadOncePerTick()
  }

  const unavailable = () =>
    new AuthError('jwks_unavailable', 'signing keys are temporarily unavailable')

  /** The loaded keys that verify at `t` (seconds), kept until the next retirement is due. */
  function usableAt(current: Loaded, t: number): VerificationKey[] {
    if (t < current.usableUntil) return current.usable
    current.usable = current.keys.filter((k) => isVerifiableAt(k.record, t)).map((k) => k.key)
    let until = Infinity
    for (const { record } of current.keys)
      if (record.retireAt !== undefined && record.retireAt > t)
        until = Math.min(until, record.retireAt)
    current.usableUntil = until
    return current.usable
  }

  function select(kid: string | undefined, alg: string): VerificationKey {
    const usable = usableAt(loaded!, now() / 1000)
    if (usable.length === 0) throw new AuthError('kid_unknown', 'token key id is not known')
    return selectKey(usable, kid, alg)
  }

  // A copy that is held and not due a refresh answers at once: getKey would not read L2 either.
  // Anything else (nothing loaded, a refresh due, no clean match) is getKey's to decide. The answer
  // stands until the copy is due a refresh or a key of it retires, whichever comes first (ms).
  function lookup(kid: string | undefined, alg: string, t: number): KnownKey | undefined {
    const current = loaded
    if (current === undefined) return undefined
    const refreshAt = current.loadedAt + current.refreshAfter
    if (t >= refreshAt) return undefined
    try {
      const key = selectKey(usableAt(current, t / 1000), kid, alg)
      return { key, until: Math.min(refreshAt, current.usableUntil * 1000) }
    } catch {
      return undefined // unknown kid, other alg, several candidates: getKey says which
    }
  }

  const source = new PublishedKeys(now, lookup, {
    async getKey(kid, alg) {
      await ensureLoaded()
      if (!loaded) {
        // L2 has no set for us (or cannot be read and never could): the origin's keys, if any.
        if (!options.fallback) throw unavailable()
        try {
          const key = await options.fallback.getKey(kid, alg)
          fallbackServed = true
          return key
        } catch (error) {
          if (error instanceof AuthError && error.code === 'jwks_unavailable')
            fallbackServed = false
          throw error
        }
      }
      try {
        return select(kid, alg)
      } catch (error) {
        // A kid we have not seen may be a key published since our last read (or an emergency
        // rotation): one re-read, rate-limited. While L2 cannot be read we cannot tell whether the
        // key is ours, so the answer is "unavailable" (503, retry), never "unknown" (401).
        if (!(error instanceof AuthError) || error.code !== 'kid_unknown') throw error
        if (failing()) throw unavailable()
        // Another request's read may bring the key (an emergency rotation): retry, not 401.
        if (loadingSince !== undefined && since(loadingSince) < timeoutMs) throw unavailable()
        if (since(lastAttemptAt) < unknownKidMs) throw error
        await loadOncePerTick()
        if (failing()) throw unavailable()
        return select(kid, alg)
      }
    },
    async document() {
      await ensureLoaded()
      return loaded?.doc
    },
    notPublished: () => !loaded && lastOutcome === 'absent',
    status() {
      const source = loaded ? 'l2' : fallbackServed ? 'origin' : null
      return {
        source,
        version: loaded?.doc.version ?? null,
        ageSeconds: loaded ? since(loaded.loadedAt) / 1000 : null,
        stale: failing(),
        lastError: failing() ? (lastOutcome ?? null) : null,
        refreshSeconds: Math.min(refreshMs / 1000, loaded?.doc.cacheSeconds ?? Infinity),
      }
    },
  })
  return source
}

/** What `knownKey` answered, and until when (ms) the same question gets the same answer. */
interface KnownKey {
  key: VerificationKey
  until: number
}

/**
 * The source object. `knownKey`'s last answer is kept on it (the kid and alg asked, the key, until
 * when it stands), so a cold verification with a known key reads this one object of its issuer, not
 * also the loaded copy, its usable list and the key (an edge holds one source per tenant, and these
 * are cache misses when traffic spreads over many: issue 16). The answer is exactly the lookup's:
 * it stands until the copy is due a refresh or a key retires (the usable keys only shrink in
 * between), and a new copy clears it.
 */
class PublishedKeys implements PublishedKeySource {
  private memoKid: string | undefined = undefined
  private memoAlg = ''
  private memoKey: VerificationKey | undefined = undefined
  /** The memo stands while `now()` is below this (ms); -Infinity: no memo. */
  private memoUntil = -Infinity
  private readonly now: Clock
  private readonly lookup: (kid: string | undefined, alg: string, t: number) => KnownKey | undefined
  readonly getKey: PublishedKeySource['getKey']
  readonly document: PublishedKeySource['document']
  readonly notPublished: PublishedKeySource['notPublished']
  readonly status: PublishedKeySource['status']

  constructor(
    now: Clock,
    lookup: PublishedKeys['lookup'],
    rest: Omit<PublishedKeySource, 'knownKey'>,
  ) {
    this.now = now
    this.lookup = lookup
    this.getKey = rest.getKey
    this.document = rest.document
    this.notPublished = rest.notPublished
    this.status = rest.status
  }

  knownKey(kid: string | undefined, alg: string): VerificationKey | undefined {
    const t = this.now()
    if (t < this.memoUntil && kid === this.memoKid && alg === this.memoAlg) return this.memoKey
    const known = this.lookup(kid, alg, t)
    if (known === undefined) return undefined
    this.memoKid = kid
    this.memoAlg = alg
    this.memoKey = known.key
    this.memoUntil = known.until
    return known.key
  }

  /** A new copy was loaded: the next `knownKey` looks again. */
  forget(): void {
    this.memoUntil = -Infinity
  }
}
