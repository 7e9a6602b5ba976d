/**
 * The origin's managed key set (docs/keys.md): it follows the key-set document in L2
 * (src/core/published-key-set.ts), signs with whatever key is active by the clock, verifies with
 * every published key, and, when a scheduled step is due, performs it under the lease (key-lease.ts)
 * with a compare-and-swap on the document. Private keys reach it only wrapped under the
 * key-encryption key (key-wrap.ts).
 *
 * Bounds (docs/keys.md measures them):
 * - a change in L2 reaches this origin within `checkSeconds` (each `tick()` re-reads the document),
 *   and at once for a kid it has not seen: verification re-reads L2 before answering "unknown";
 * - activation needs no write: every origin switches at `activateAt` by its own clock;
 * - an origin that has not read the set for half the pre-publish lead stops minting (503), since it
 *   could otherwise miss a successor and keep signing with a key about to leave the JWKS; a read
 *   overdue by more than two checks is done before the next token is signed.
 *
 * @example
 * const keys = createKeyLifecycle({ store, issuer, keks, policy, seed: config.keys })
 * await keys.start()
 * setInterval(() => void keys.tick(), policy.checkSeconds * 1000)
 */
import { importJWK, type JWK } from 'jose'
import {
  activeKeyAt,
  isPublishedAt,
  isVerifiableAt,
  keySetStoreKeys,
  keyStatusAt,
  nextChangeAfter,
  parseKeySetDocument,
  publicJwksAt,
  type KeyRecord,
  type KeySetDocument,
  type PublishedKeyStatus,
} from '../published-key-set.ts'
import type { Clock } from '../types.ts'
import type { SigningAlgorithm, SigningKeyConfig } from './config.ts'
import { OAuthError } from './errors.ts'
import { createKeyLease } from './key-lease.ts'
import { dueSteps, pruneKeys, scheduleKey, type RotationPolicy } from './key-schedule.ts'
import {
  KeyUnwrapError,
  unwrapPrivateKey,
  wrapPrivateKey,
  type KeyEncryptionKeys,
} from './key-wrap.ts'
import {
  generateSigningKey,
  jwkOf,
  toPublicJwk,
  type LoadedKey,
  type SigningKey,
  type SigningKeySet,
} from './keys.ts'
import type { OAuthStore } from './store.ts'

/** A structured log line (the shape of src/http/log.ts's records; core imports nothing from http). */
export type KeyLog = (record: {
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  [field: string]: unknown
}) => void

export interface KeyLifecyclePolicy extends RotationPolicy {
  /** false: follow the set, never perform scheduled steps. */
  scheduled: boolean
  checkSeconds: number
}

export interface KeyLifecycleOptions {
  store: Pick<OAuthStore, 'get' | 'set' | 'compareAndSwap'>
  issuer: string
  keks: KeyEncryptionKeys
  policy: KeyLifecyclePolicy
  clock?: Clock
  /** The config's keys: the first key set when L2 has none. Ignored once a set exists. */
  seed?: readonly SigningKeyConfig[]
  /** Discovery metadata to publish with the set (written at start when it differs). */
  discovery?: () => Record<string, unknown>
  /** L2 key prefix (a tenant, issue 16). */
  prefix?: string
  /** Names this origin in the lease. Default: random. */
  holder?: string
  /** A new private JWK with `kid` and `alg`. Default: jose, RFC 7638 thumbprint as kid. */
  generateKey?: (alg: SigningAlgorithm) => Promise<JWK & { kid: string; alg: SigningAlgorithm }>
  /** Waits; injectable so a model can run on simulated time. Default setTimeout. */
  sleep?: (ms: number) => Promise<void>
  log?: KeyLog
  /** Shortest time between two reads of L2 caused by unknown kids. Default 1000 ms. */
  unknownKidIntervalMs?: number
}

export interface KeyLifecycleStatus {
  /** Version of the set this origin follows; null before the first read. */
  version: number | null
  /** Seconds since the last successful read of L2. */
  readAgeSeconds: number | null
  active: string | null
  keys: { kid: string; alg: string; status: PublishedKeyStatus }[]
  lastError: string | null
}

export interface KeyLifecycle extends SigningKeySet {
  signingKey(): Promise<SigningKey>
  /** Reads the set, creating the first one under the lease when L2 has none. Before serving. */
  start(): Promise<void>
  /** Re-reads L2; resolves whether the read succeeded. */
  refresh(): Promise<boolean>
  /** One scheduled tick: re-read, then perform the due steps if the lease is ours. */
  tick(): Promise<void>
  /** The document this origin follows. */
  document(): KeySetDocument | undefined
  status(): KeyLifecycleStatus
}

interface Imported {
  record: KeyRecord
  publicKey: CryptoKey
  privateKey: CryptoKey | undefined
}

interface Current {
  doc: KeySetDocument
  byKid: Map<string, Imported>
}

const BOOTSTRAP_POLL_MS = 200

/** Seconds, whole, as the document stores them. */
const seconds = (ms: number): number => Math.floor(ms / 1000)

const defaultGenerate = async (alg: SigningAlgorithm) => jwkOf(await generateSigningKey(alg))

/**
 * A key record for a private JWK: public members published, private half wrapped.
 *
 * @example const record = await keyRecordFor(privateJwk, keks, { now, publishAt: now, activateAt })
 */
export async function keyRecordFor(
  privateJwk: JWK & { kid: string; alg: SigningAlgorithm },
  keks: KeyEncryptionKeys,
  times: { now: number; publishAt: number; activateAt: number },
): Promise<KeyRecord> {
  const jwk = toPublicJwk({ ...privateJwk, status: 'next' } as SigningKeyConfig)
  return {
    kid: privateJwk.kid,
    alg: privateJwk.alg,
    jwk: jwk as KeyRecord['jwk'],
    createdAt: times.now,
    publishAt: times.publishAt,
    activateAt: times.activateAt,
    wrapped: await wrapPrivateKey(keks, privateJwk),
  }
}

/**
 * The first key set from the config's keys: the `active` one signs now, `retiring` ones are
 * superseded now (published for the retention), `next` ones activate after the pre-publish lead.
 */
async function seedDocument(
  seed: readonly SigningKeyConfig[],
  keks: KeyEncryptionKeys,
  now: number,
  policy: KeyLifecyclePolicy,
): Promise<KeyRecord[]> {
  const records: KeyRecord[] = []
  for (const key of seed) {
    if (key.status === 'retired') continue
    const { status } = key
    const jwk = jwkOf(key)
    const at =
      status === 'active'
        ? now - 1
        : status === 'retiring'
          ? now - 2
          : now + policy.prePublishSeconds
    const publishAt = Math.min(at, now)
    if (typeof jwk.d === 'string') {
      records.push(
        await keyRecordFor(jwk, keks, {
          now,
          publishAt,
          activateAt: at,
        }),
      )
    } else {
      // A retiring key given without its private half: published, never signs again.
      const pub = toPublicJwk(key) as KeyRecord['jwk']
      records.push({
        kid: key.kid,
        alg: key.alg,
        jwk: pub,
        createdAt: now,
        publishAt,
        activateAt: at,
      })
    }
  }
  return records
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

export function createKeyLifecycle(options: KeyLifecycleOptions): KeyLifecycle {
  const { store, issuer, keks, policy } = options
  const clock = options.clock ?? Date.now
  const log = options.log ?? (() => {})
  const generate = options.generateKey ?? defaultGenerate
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const storeKeys = keySetStoreKeys(issuer, options.prefix)
  const unknownKidIntervalMs = options.unknownKidIntervalMs ?? 1000
  const leaseSeconds = Math.max(5, 3 * policy.checkSeconds)
  const lease = createKeyLease({
    store,
    key: storeKeys.lease,
    holder: options.holder ?? crypto.randomUUID(),
    ttlSeconds: leaseSeconds,
  })

  let current: Current | undefined
  // Derived answers, valid until the next scheduled change or a new document.
  let cached:
    | {
        version: number
        until: number
        at: number
        /** Published now: the JWKS. */
        all: LoadedKey[]
        /** Accepted now: published, and not yet published (no origin signs with those early). */
        verifiable: LoadedKey[]
        active: SigningKey | undefined
      }
    | undefined
  const importCache = new Map<string, Imported>()
  let lastReadAt: number | undefined
  let lastError: string | undefined
  const warnedUnwrap = new Set<string>()
  // Reads in flight and done, by start time: "unknown kid" waits for a read that began after it.
  let latestRead: { startedAt: number; done: Promise<boolean> } | undefined
  let pendingRead: Promise<boolean> | undefined

  const now = (): number => seconds(clock())

  async function importRecord(record: KeyRecord): Promise<Imported> {
    const cacheKey = `${record.kid}\n${JSON.stringify(record.jwk)}\n${record.wrapped ?? ''}`
    const cached = importCache.get(cacheKey)
    if (cached) return { ...cached, record }
    const publicKey = (await importJWK(record.jwk as JWK, record.alg)) as CryptoKey
    let privateKey: CryptoKey | undefined
    if (record.wrapped !== undefined) {
      try {
        const jwk = await unwrapPrivateKey(keks, record.wrapped, record.jwk)
        privateKey = (await importJWK(jwk, record.alg, { extractable: false })) as CryptoKey
      } catch (e) {
        if (!(e instanceof KeyUnwrapError)) throw e
        if (!warnedUnwrap.has(record.kid)) {
          warnedUnwrap.add(record.kid)
          log({
            level: 'error',
            msg: 'signing key cannot be unwrapped',
            kid: record.kid,
            reason: e.message,
          })
        }
      }
    }
    const imported = { record, publicKey, privateKey }
    importCache.set(cacheKey, imported)
    return imported
  }

  /** Makes `doc` the current set once every key it publishes is imported; older versions lose. */
  async function adopt(doc: KeySetDocument): Promise<void> {
    if (doc.issuer !== issuer) {
      throw new Error('the key set in L2 belongs to another issuer')
    }
    const byKid = new Map<string, Imported>()
    for (const record of doc.keys) {
      if (record.revokedAt !== undefined) continue
      byKid.set(record.kid, await importRecord(record))
    }
    if (current && doc.version < current.doc.version) return
    current = { doc, byKid }
    cached = undefined
  }

  async function readOnce(): Promise<boolean> {
    const startedAt = clock()
    try {
      const raw = await store.get(storeKeys.document)
      const doc = parseKeySetDocument(raw)
      if (raw !== null && !doc) throw new Error('the key set in L2 is damaged')
      if (doc) await adopt(doc)
      if (lastReadAt === undefined || startedAt > lastReadAt) lastReadAt = startedAt
      if (lastError !== undefined) log({ level: 'info', msg: 'key set read recovered' })
      lastError = undefined
      return true
    } catch (e) {
      const name = e instanceof Error ? e.message : typeof e
      if (lastError !== name) log({ level: 'warn', msg: 'key set read failed', error: name })
      lastError = name
      return false
    }
  }

  function read(): Promise<boolean> {
    const startedAt = clock()
    const done = readOnce()
    if (!latestRead || startedAt >= latestRead.startedAt) latestRead = { startedAt, done }
    return done
  }

  /** A read that started after `t`: joins one, or starts one once the interval allows. */
  function readStartedAfter(t: number): Promise<boolean> {
    if (latestRead && latestRead.startedAt > t) return latestRead.done
    // A read still waiting for the interval will start after `t`: join it.
    if (pendingRead) return pendingRead
    const wait = (latestRead?.startedAt ?? -Infinity) + unknownKidIntervalMs - clock()
    if (wait <= 0) return read()
    const pending: Promise<boolean> = sleep(wait).then(() => {
      // Started: from here on a caller needs a read that starts later still.
      if (pendingRead === pending) pendingRead = undefined
      return read()
    })
    pendingRead = pending
    return pending
  }

  function toLoaded(imported: Imported, status: PublishedKeyStatus): LoadedKey {
    return {
      kid: imported.record.kid,
      alg: imported.record.alg,
      status:
        status === 'next' || status === 'active' || status === 'retiring' ? status : 'retiring',
      publicJwk: { ...imported.record.jwk },
      privateKey: imported.privateKey,
      publicKey: imported.publicKey,
    }
  }

  function derived(t: number) {
    if (!current) return undefined
    const { doc, byKid } = current
    if (cached && cached.version === doc.version && t >= cached.at && t < cached.until)
      return cached
    const all: LoadedKey[] = []
    const verifiable: LoadedKey[] = []
    let active: SigningKey | undefined
    const activeRecord = activeKeyAt(doc, t)
    for (const record of doc.keys) {
      const imported = byKid.get(record.kid)
      if (!imported || !isVerifiableAt(record, t)) continue
      const loaded = toLoaded(imported, keyStatusAt(doc, record, t))
      verifiable.push(loaded)
      if (isPublishedAt(record, t)) all.push(loaded)
      if (record === activeRecord && loaded.privateKey) active = loaded as SigningKey
    }
    cached = {
      version: doc.version,
      at: t,
      until: nextChangeAfter(doc, t),
      all,
      verifiable,
      active,
    }
    return cached
  }

  const unavailable = (why: string) => {
    log({ level: 'error', msg: why })
    return new OAuthError('temporarily_unavailable', 'Signing keys are unavailable; retry shortly.')
  }

  /** The steps due now, written with compare-and-swap; re-planned on every attempt. */
  async function performSteps(seed: readonly SigningKeyConfig[] | undefined): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await store.get(storeKeys.document)
      const doc = parseKeySetDocument(raw)
      // A damaged set is never overwritten: it may hold the only copy of keys that signed live tokens.
      if (raw !== null && !doc) throw new Error('the key set in L2 is damaged; not overwriting it')
      const t = now()
      const due = dueSteps(doc, t, policy)
      if (!due.create && due.prune.length === 0) {
        if (doc) await adopt(doc)
        return
      }
      let next: KeySetDocument = doc ?? {
        format: 1,
        issuer,
        version: 0,
        updatedAt: t,
        cacheSeconds: policy.cacheSeconds,
        keys: [],
      }
      next = pruneKeys(next, due.prune)
      if (!doc && seed && seed.some((k) => k.status === 'active')) {
        for (const record of await seedDocument(seed, keks, t, policy))
          next = scheduleKey(next, record, t, policy)
      } else if (due.create) {
        const record = await keyRecordFor(await generate(policy.alg), keks, {
          now: t,
          ...due.create,
        })
        next = scheduleKey(next, record, t, policy)
      }
      const discovery = doc?.discovery ?? options.discovery?.()
      next = {
        ...next,
        version: (doc?.version ?? 0) + 1,
        updatedAt: t,
        cacheSeconds: policy.cacheSeconds,
        ...(discovery ? { discovery } : {}),
      }
      if (await store.compareAndSwap(storeKeys.document, raw, JSON.stringify(next))) {
        await adopt(next)
        log({
          level: 'info',
          msg: 'key set updated',
          version: next.version,
          created: due.create ? next.keys.at(-1)?.kid : undefined,
          pruned: due.prune.length > 0 ? due.prune : undefined,
        })
        return
      }
    }
    throw new Error('could not update the key set: store contention')
  }

  async function withLease(work: () => Promise<void>): Promise<boolean> {
    if (!(await lease.acquire())) return false
    try {
      await work()
    } finally {
      await lease.release().catch(() => {})
    }
    return true
  }

  /** Publishes this origin's discovery metadata when the set's copy differs (a new deploy). */
  async function publishDiscovery(): Promise<void> {
    const mine = options.discovery?.()
    if (!mine) return
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await store.get(storeKeys.document)
      const doc = parseKeySetDocument(raw)
      if (!doc || sameJson(doc.discovery, mine)) return
      const next = { ...doc, discovery: mine, version: doc.version + 1, updatedAt: now() }
      if (await store.compareAndSwap(storeKeys.document, raw, JSON.stringify(next))) {
        await adopt(next)
        return
      }
    }
  }

  const keySet: KeyLifecycle = {
    get active(): SigningKey {
      const t = clock()
      if (lastReadAt !== undefined && t - lastReadAt > (policy.prePublishSeconds * 1000) / 2)
        throw unavailable('key set not read for half the pre-publish lead: not minting')
      const d = derived(seconds(t))
      if (!d?.active) throw unavailable('no signing key can be used (check the key-encryption key)')
      return d.active
    },
    async signingKey() {
      // Reads run every checkSeconds; one overdue (a busy loop, a start) is done before signing,
      // rather than letting `active` refuse to mint on an old read.
      const t = clock()
      if (lastReadAt !== undefined && t - lastReadAt > 2 * policy.checkSeconds * 1000)
        await readStartedAfter(t - policy.checkSeconds * 1000)
      return keySet.active
    },
    get all() {
      return derived(now())?.all ?? []
    },
    get cacheSeconds() {
      return current?.doc.cacheSeconds ?? policy.cacheSeconds
    },
    publicJwks() {
      return current ? publicJwksAt(current.doc, now()) : { keys: [] }
    },
    async verificationKey(kid) {
      const askedAt = clock()
      const find = () => derived(now())?.verifiable.find((k) => k.kid === kid)
      const known = find()
      if (known) return known
      // Keys are in L2 before anything signs with them: a read that starts after this token
      // reached us lists its key if it is ours. Until such a read succeeds we cannot tell.
      if (!(await readStartedAfter(askedAt)))
        throw new OAuthError(
          'temporarily_unavailable',
          'Signing keys are unavailable; retry shortly.',
        )
      return find()
    },
    async start() {
      const deadline = clock() + (leaseSeconds + 5) * 1000
      for (;;) {
        if (!(await read())) throw new Error(`cannot read the key set from L2: ${lastError ?? ''}`)
        const signing = current && activeKeyAt(current.doc, now())
        if (signing) {
          if (derived(now())?.active) break
          throw new Error(
            `the active key "${signing.kid}" cannot be unwrapped: keyEncryptionKeys must hold the fleet's key-encryption key`,
          )
        }
        // No key signs yet (an empty store): the first origin to take the lease creates the set.
        const stepped = await withLease(() => performSteps(options.seed))
        if (stepped && current && activeKeyAt(current.doc, now())) continue
        if (clock() > deadline) throw new Error('timed out waiting for a usable key set in L2')
        await sleep(BOOTSTRAP_POLL_MS)
      }
      const seed = options.seed ?? []
      if (seed.length > 0 && !current!.doc.keys.some((k) => seed.some((s) => s.kid === k.kid)))
        log({
          level: 'info',
          msg: 'the key set in L2 is the source of truth: the config keys seed an empty store only',
        })
      await publishDiscovery()
    },
    refresh: read,
    async tick() {
      await read()
      if (!policy.scheduled || !current) return
      const due = dueSteps(current.doc, now(), policy)
      if (!due.create && due.prune.length === 0) return
      try {
        await withLease(() => performSteps(undefined))
      } catch (e) {
        log({
          level: 'warn',
          msg: 'key schedule step failed',
          error: e instanceof Error ? e.message : typeof e,
        })
      }
    },
    document: () => current?.doc,
    status() {
      const t = now()
      const doc = current?.doc
      return {
        version: doc?.version ?? null,
        readAgeSeconds: lastReadAt === undefined ? null : (clock() - lastReadAt) / 1000,
        active: doc ? (activeKeyAt(doc, t)?.kid ?? null) : null,
        keys: doc
          ? doc.keys.map((k) => ({ kid: k.kid, alg: k.alg, status: keyStatusAt(doc, k, t) }))
          : [],
        lastError: lastError ?? null,
      }
    },
  }
  return keySet
}
