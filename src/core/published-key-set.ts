/**
 * The fleet's signing-key set as the origins publish it in L2 (DESIGN.md, Keys): one versioned JSON
 * document holding every key's public JWK and its schedule, the origins' encrypted private halves and
 * the discovery metadata. Origins sign and verify from it, edges verify and serve the JWKS and
 * discovery from it, so the JWKS and discovery always change together, in one atomic write.
 *
 * A key's status is a pure function of its timestamps and the clock, never a stored word, so every
 * process agrees on it without a write at the moment of change (an origin that cannot reach L2 when
 * a key activates still switches on time):
 *
 * - `pending`   before `publishAt` (not in the JWKS);
 * - `next`      published, before `activateAt`;
 * - `active`    the published, activated key with the latest `activateAt`: exactly one once any key
 *               has activated;
 * - `retiring`  activated but superseded: still published (tokens it signed are live), signs nothing;
 * - `retired`   from `retireAt` (set when a successor is scheduled: successor's `activateAt` + the
 *               retention): out of the JWKS, then pruned;
 * - `revoked`   `revokedAt` set (compromise): out of the JWKS at once, whatever the clock says.
 *
 * Runtime-free: Web APIs only, no store type (callers pass the raw string).
 *
 * @example
 * const doc = parseKeySetDocument(await store.get(keySetStoreKeys(issuer).document))
 * const signer = doc && activeKeyAt(doc, Date.now() / 1000)
 */
import type { SigningAlg } from './types.ts'

/** Public members of a signing key as published (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2). */
export interface PublicSigningJwk {
  kty: 'EC' | 'OKP' | 'RSA'
  kid: string
  alg: SigningAlg
  use: 'sig'
  crv?: string
  x?: string
  y?: string
  n?: string
  e?: string
}

/** One key and its schedule. Times are whole seconds since the epoch. */
export interface KeyRecord {
  kid: string
  alg: SigningAlg
  jwk: PublicSigningJwk
  createdAt: number
  /** In the JWKS from here. */
  publishAt: number
  /** Signs from here, until a later key activates. */
  activateAt: number
  /** Out of the JWKS from here; set once a successor is scheduled (its activateAt + retention). */
  retireAt?: number
  /** Compromised: out of the JWKS at once. */
  revokedAt?: number
  /** The private JWK as a JWE (dir + A256GCM) under the origins' key-encryption key. Origins only. */
  wrapped?: string
}

export type PublishedKeyStatus = 'pending' | 'next' | 'active' | 'retiring' | 'retired' | 'revoked'

export interface KeySetDocument {
  format: 1
  /** The issuer these keys sign for; a verifier of another issuer ignores the document. */
  issuer: string
  /** Goes up by one on every write (compare-and-swap on the whole document). */
  version: number
  updatedAt: number
  /** `Cache-Control: max-age` of the JWKS and discovery, and the lead a key is published before it signs. */
  cacheSeconds: number
  keys: KeyRecord[]
  /** OIDC Discovery / RFC 8414 metadata; signing-algorithm members are derived from `keys`. */
  discovery?: Record<string, unknown>
}

/**
 * L2 key names, per issuer: one database can hold the sets of several issuers (staging and
 * production, or tenants) without one origin ever adopting or overwriting another's keys. A tenant
 * prefix (issue 16) goes in front, e.g. `t:acme:`.
 *
 * @example keySetStoreKeys('https://auth.example.com').document // 'keys:set:https://auth.example.com'
 */
export const keySetStoreKeys = (issuer: string, prefix = '') =>
  ({
    /** The key-set document. */
    document: `${prefix}keys:set:${issuer}`,
    /** Which origin performs the scheduled steps (a value with a TTL). */
    lease: `${prefix}keys:lease:${issuer}`,
  }) as const

const ALGS: readonly string[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']
const KID = /^[\x21-\x7e]{1,128}$/
const B64URL = /^[A-Za-z0-9_-]{1,2048}$/
const MAX_KEYS = 1000

const isTime = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function parseJwk(value: unknown, kid: string, alg: string): PublicSigningJwk | undefined {
  if (!isObject(value) || value.kid !== kid || value.alg !== alg) return undefined
  const kty = value.kty
  const text = (name: string): string | undefined =>
    typeof value[name] === 'string' && B64URL.test(value[name]) ? value[name] : undefined
  const base = { kid, alg: alg as SigningAlg, use: 'sig' as const }
  if (kty === 'EC') {
    const [crv, x, y] = [value.crv, text('x'), text('y')]
    if ((crv !== 'P-256' && crv !== 'P-384') || !x || !y) return undefined
    return { kty, crv, x, y, ...base }
  }
  if (kty === 'OKP') {
    const x = text('x')
    if (value.crv !== 'Ed25519' || !x) return undefined
    return { kty, crv: 'Ed25519', x, ...base }
  }
  if (kty === 'RSA') {
    const [n, e] = [text('n'), text('e')]
    if (!n || !e) return undefined
    return { kty, n, e, ...base }
  }
  return undefined
}

function parseKey(value: unknown): KeyRecord | undefined {
  if (!isObject(value)) return undefined
  const { kid, alg, createdAt, publishAt, activateAt, retireAt, revokedAt, wrapped } = value
  if (typeof kid !== 'string' || !KID.test(kid) || typeof alg !== 'string' || !ALGS.includes(alg))
    return undefined
  if (!isTime(createdAt) || !isTime(publishAt) || !isTime(activateAt)) return undefined
  if (publishAt > activateAt) return undefined
  if (retireAt !== undefined && !isTime(retireAt)) return undefined
  if (revokedAt !== undefined && !isTime(revokedAt)) return undefined
  if (wrapped !== undefined && (typeof wrapped !== 'string' || wrapped.length > 65_536))
    return undefined
  const jwk = parseJwk(value.jwk, kid, alg)
  if (!jwk) return undefined
  const key: KeyRecord = { kid, alg: alg as SigningAlg, jwk, createdAt, publishAt, activateAt }
  if (retireAt !== undefined) key.retireAt = retireAt
  if (revokedAt !== undefined) key.revokedAt = revokedAt
  if (wrapped !== undefined) key.wrapped = wrapped
  return key
}

/**
 * Parses the stored document strictly. Anything malformed (bad JSON, an unknown format, a key that
 * fails its checks, duplicate kids) reads as `undefined`, never a half-trusted set: a reader then
 * keeps what it has or falls back to the origin, and the error is the caller's to report.
 *
 * @example const doc = parseKeySetDocument(raw) // undefined when absent or damaged
 */
export function parseKeySetDocument(raw: string | null): KeySetDocument | undefined {
  if (raw === null) return undefined
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (!isObject(value) || value.format !== 1) return undefined
  const { issuer, version, updatedAt, cacheSeconds, keys, discovery } = value
  if (typeof issuer !== 'string' || issuer === '' || !isTime(version) || !isTime(updatedAt))
    return undefined
  if (!isTime(cacheSeconds) || cacheSeconds < 1 || cacheSeconds > 86_400) return undefined
  if (!Array.isArray(keys) || keys.length > MAX_KEYS) return undefined
  if (discovery !== undefined && !isObject(discovery)) return undefined
  const parsed: KeyRecord[] = []
  const kids = new Set<string>()
  for (const item of keys) {
    const key = parseKey(item)
    if (!key || kids.has(key.kid)) return undefined
    kids.add(key.kid)
    parsed.push(key)
  }
  const doc: KeySetDocument = { format: 1, issuer, version, updatedAt, cacheSeconds, keys: parsed }
  if (discovery !== undefined) doc.discovery = discovery
  return doc
}

const later = (a: KeyRecord, b: KeyRecord): boolean =>
  a.activateAt !== b.activateAt ? a.activateAt > b.activateAt : a.kid > b.kid

/** Published and activated, not revoked, not retired: a candidate to sign at `now`. */
const signsAt = (key: KeyRecord, now: number): boolean =>
  key.revokedAt === undefined &&
  key.publishAt <= now &&
  key.activateAt <= now &&
  (key.retireAt === undefined || now < key.retireAt)

/**
 * The one key that signs at `now` (seconds): of the published, activated, unrevoked, unretired keys,
 * the one activated last. Undefined only before any key has activated (or when all are revoked).
 *
 * @example activeKeyAt(doc, Date.now() / 1000)?.kid
 */
export function activeKeyAt(doc: Pick<KeySetDocument, 'keys'>, now: number): KeyRecord | undefined {
  let active: KeyRecord | undefined
  for (const key of doc.keys) if (signsAt(key, now) && (!active || later(key, active))) active = key
  return active
}

/**
 * The status of one key of `doc` at `now` (seconds).
 *
 * @example keyStatusAt(doc, doc.keys[0], Date.now() / 1000) // 'active'
 */
export function keyStatusAt(
  doc: Pick<KeySetDocument, 'keys'>,
  key: KeyRecord,
  now: number,
): PublishedKeyStatus {
  if (key.revokedAt !== undefined) return 'revoked'
  if (now < key.publishAt) return 'pending'
  if (now < key.activateAt) return 'next'
  if (key.retireAt !== undefined && now >= key.retireAt) return 'retired'
  return activeKeyAt(doc, now) === key ? 'active' : 'retiring'
}

/** True for a key in the JWKS at `now`: next, active or retiring. */
export const isPublishedAt = (key: KeyRecord, now: number): boolean =>
  key.revokedAt === undefined &&
  key.publishAt <= now &&
  (key.retireAt === undefined || now < key.retireAt)

/**
 * True for a key whose tokens a verifier accepts at `now`: any key of the set that is neither revoked
 * nor retired. A key not yet published is included: no origin signs with it before it activates, and
 * a verifier whose clock runs behind the writer's must not refuse the tokens of a key written (and
 * signing) a moment ago by its clock (the first key of a set, an emergency replacement).
 */
export const isVerifiableAt = (key: KeyRecord, now: number): boolean =>
  key.revokedAt === undefined && (key.retireAt === undefined || now < key.retireAt)

/**
 * The JWKS at `now` (RFC 7517 §5): next, active and retiring keys, public members only.
 *
 * @example Response.json(publicJwksAt(doc, Date.now() / 1000))
 */
export function publicJwksAt(
  doc: Pick<KeySetDocument, 'keys'>,
  now: number,
): { keys: PublicSigningJwk[] } {
  return { keys: doc.keys.filter((k) => isPublishedAt(k, now)).map((k) => ({ ...k.jwk })) }
}

/**
 * The earliest moment after `now` at which some key's status changes (publish, activate, retire), so
 * a reader can cache a derived answer until then. Infinity when nothing is scheduled.
 *
 * @example const until = nextChangeAfter(doc, now)
 */
export function nextChangeAfter(doc: Pick<KeySetDocument, 'keys'>, now: number): number {
  let next = Infinity
  for (const key of doc.keys) {
    for (const t of [key.publishAt, key.activateAt, key.retireAt]) {
      if (t !== undefined && t > now && t < next) next = t
    }
  }
  return next
}

/**
 * The discovery document at `now`: the published metadata with the signing-algorithm members taken
 * from the keys, so discovery and JWKS cannot disagree.
 *
 * @example Response.json(discoveryAt(doc, Date.now() / 1000))
 */
export function discoveryAt(doc: KeySetDocument, now: number): Record<string, unknown> | undefined {
  if (doc.discovery === undefined) return undefined
  const active = activeKeyAt(doc, now)
  const published = doc.keys.filter((k) => isPublishedAt(k, now))
  return {
    ...doc.discovery,
    id_token_signing_alg_values_supported: active ? [active.alg] : [],
    // RFC 9068 §2.1: the algorithms access tokens may be signed with.
    access_token_signing_alg_values_supported: [...new Set(published.map((k) => k.alg))],
  }
}
