// Revocation records in L2 and the events that announce them (DESIGN.md, "Revocation with a stated
// staleness bound"). A record is the source of truth: `rev:<kind>:<id>` with a TTL that outlives every
// token it can concern. The stream `rev:stream` tells edges which ids to add to their filter; an edge
// that probes a hit confirms it here. The record is written before the event, so an edge that has
// seen the event always finds the record.

import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'

/** What a revocation names: one access token, one login session, or every token of a subject. */
export type RevocationKind = 'jti' | 'sid' | 'sub'

export const REVOCATION_KINDS: readonly RevocationKind[] = ['jti', 'sid', 'sub']

/** L2 key layout shared by the writer, the snapshot builder and the edge. */
export const revocationKeys = {
  record: (kind: RevocationKind, id: string): string => `rev:${kind}:${id}`,
  stream: 'rev:stream',
  snapshot: 'rev:snapshot',
} as const

/** The string a filter holds for an id: kinds are namespaced so a `sub` never matches a `jti`. */
export const filterItem = (kind: RevocationKind, id: string): string => `${kind}:${id}`

const MAX_ID_LENGTH = 512
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * True for an id the writer accepts: a string of 1..512 well-formed UTF-16 characters. The edge
 * skips other ids (they cannot have been revoked) instead of sending them to L2.
 *
 * @example isRevocableId('0b9f…') // true
 */
export function isRevocableId(id: unknown): id is string {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= MAX_ID_LENGTH &&
    !LONE_SURROGATE.test(id)
  )
}

function assertId(what: RevocationKind, id: unknown): asserts id is string {
  if (!isRevocableId(id)) {
    throw new TypeError(`${what} must be a well-formed string of 1 to ${MAX_ID_LENGTH} characters`)
  }
}

/** The claims a revocation decision reads. */
export interface RevocationClaims {
  jti?: unknown
  sid?: unknown
  sub?: unknown
  iat?: unknown
}

/**
 * Decides one record against a token. `jti` and `sid` records revoke outright. A `sub` record holds
 * a not-before time (seconds): a token issued before it is revoked; a token without a numeric `iat`
 * cannot prove it was issued after, so it is revoked too (RFC 9068 §2.2 makes `iat` required).
 *
 * @example isRevokedBy('sub', '1750000100', { iat: 1750000000 }) // true
 */
export function isRevokedBy(
  kind: RevocationKind,
  value: string | null,
  claims: RevocationClaims,
): boolean {
  if (value === null) return false
  if (kind !== 'sub') return true
  const notBefore = Number(value)
  if (!Number.isFinite(notBefore)) return true // a damaged record fails safe
  return typeof claims.iat !== 'number' || claims.iat < notBefore
}

export interface RevocationWriterOptions {
  store: Pick<Store, 'set' | 'get' | 'compareAndSwap' | 'appendToStream'>
  /** Longest access-token lifetime the issuer mints (`exp - iat`), seconds; 1 ..= 86,400. */
  maxAccessTokenLifetimeSeconds: number
  /** Clock skew verifiers tolerate past `exp`; records outlive it. Default 60 (the core's maximum). */
  clockLeewaySeconds?: number
  /** The stream is trimmed to about this many newest events (XADD MAXLEN ~). Default 100,000. */
  streamMaxLength?: number
  now?: Clock
}

export interface RevocationWriter {
  /** Revokes one access token until its `exp`; resolves false when it has already expired. */
  revokeToken(jti: string, exp: number): Promise<boolean>
  /** Revokes every access token carrying `sid` (RP-initiated logout). */
  revokeSession(sid: string): Promise<void>
  /**
   * Revokes every token of `sub` issued before `notBefore` (seconds; default: the next whole second,
   * so a token minted earlier in this second is covered). Resolves the not-before in force, which is
   * the later of this one and any earlier one.
   */
  revokeSubject(sub: string, notBefore?: number): Promise<number>
}

const MAX_LIFETIME_SECONDS = 86_400
const MAX_CAS_ATTEMPTS = 5

/**
 * Builds the writer the origin's `/revoke` (RFC 7009 §2.1), `/logout` and the admin API call. Every
 * method is idempotent: calling it again leaves the same record (for a subject, the latest
 * not-before wins) and appends one more event, which edges absorb harmlessly; the event is appended
 * even when the record existed, so a retry after a crash between the two writes still reaches edges.
 *
 * @example
 * const writer = createRevocationWriter({ store, maxAccessTokenLifetimeSeconds: 900 })
 * await writer.revokeToken(claims.jti, claims.exp)
 * await writer.revokeSubject('user-42')
 */
export function createRevocationWriter(options: RevocationWriterOptions): RevocationWriter {
  const { store, maxAccessTokenLifetimeSeconds: lifetime } = options
  const leeway = options.clockLeewaySeconds ?? 60
  const maxLength = options.streamMaxLength ?? 100_000
  const now = options.now ?? Date.now
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_LIFETIME_SECONDS) {
    throw new RangeError(
      `maxAccessTokenLifetimeSeconds must be an integer from 1 to ${MAX_LIFETIME_SECONDS}`,
    )
  }
  if (!Number.isInteger(leeway) || leeway < 0 || leeway > 300) {
    throw new RangeError('clockLeewaySeconds must be an integer from 0 to 300')
  }
  if (!Number.isInteger(maxLength) || maxLength < 1000 || maxLength > 10_000_000) {
    throw new RangeError('streamMaxLength must be an integer from 1000 to 10000000')
  }
  const nowSeconds = () => now() / 1000

  const announce = async (kind: RevocationKind, id: string): Promise<void> => {
    await store.appendToStream(revocationKeys.stream, { kind, id }, { maxLength })
  }

  return {
    async revokeToken(jti, exp) {
      assertId('jti', jti)
      if (typeof exp !== 'number' || !Number.isFinite(exp)) {
        throw new TypeError('exp must be a finite number of seconds')
      }
      // Verifiers accept a token until exp + leeway (RFC 9068 §4, RFC 7519 §4.1.4).
      const ttl = Math.min(exp - nowSeconds(), MAX_LIFETIME_SECONDS) + leeway
      if (ttl <= 0) return false
      await store.set(revocationKeys.record('jti', jti), String(Math.floor(nowSeconds())), {
        ttlSeconds: ttl,
        ifAbsent: true,
      })
      await announce('jti', jti)
      return true
    },

    async revokeSession(sid) {
      assertId('sid', sid)
      // No token of the session can outlive this: the origin mints none for it after logout.
      await store.set(revocationKeys.record('sid', sid), String(Math.floor(nowSeconds())), {
        ttlSeconds: lifetime + leeway,
        ifAbsent: true,
      })
      await announce('sid', sid)
    },

    async revokeSubject(sub, notBefore) {
      assertId('sub', sub)
      const current = nowSeconds()
      const wanted = notBefore ?? Math.floor(current) + 1
      if (!Number.isInteger(wanted) || wanted < 0 || wanted > current + 60) {
        throw new RangeError('notBefore must be whole seconds, not later than now')
      }
      const key = revocationKeys.record('sub', sub)
      let inForce = wanted
      // Keep the later not-before under concurrent admins: read, compare, swap (one Lua call).
      for (let attempt = 0; ; attempt++) {
        const existing = await store.get(key)
        const previous = existing === null ? NaN : Number(existing)
        if (Number.isFinite(previous) && previous >= wanted) {
          inForce = previous
          break
        }
        // The last token issued before `wanted` lives until wanted + lifetime (+ leeway).
        const ttl = wanted + lifetime + leeway - current
        if (ttl <= 0) return wanted
        if (await store.compareAndSwap(key, existing, String(wanted), { ttlSeconds: ttl })) break
        if (attempt + 1 >= MAX_CAS_ATTEMPTS) throw new Error('revokeSubject: too much contention')
      }
      await announce('sub', sub)
      return inForce
    },
  }
}

export interface RevocationReader {
  /** The record's value, or null. */
  read(kind: RevocationKind, id: string): Promise<string | null>
  /** True when any of the token's `jti`, `sid` or `sub` records revokes it. One round trip each. */
  isRevoked(claims: RevocationClaims): Promise<boolean>
}

/**
 * Reads records straight from L2: for the origin (introspection RFC 7662 §2.2, userinfo), which has
 * no filter and can afford the round trips, and for the edge to confirm a filter hit.
 *
 * @example
 * if (await createRevocationReader({ store }).isRevoked(claims)) throw new AuthError('token_revoked', 'token has been revoked')
 */
export function createRevocationReader(options: { store: Pick<Store, 'get'> }): RevocationReader {
  const { store } = options
  const read = (kind: RevocationKind, id: string) => store.get(revocationKeys.record(kind, id))
  return {
    read,
    async isRevoked(claims) {
      const checks = REVOCATION_KINDS.filter((kind) => isRevocableId(claims[kind])).map(
        async (kind) => isRevokedBy(kind, await read(kind, claims[kind] as string), claims),
      )
      return (await Promise.all(checks)).some(Boolean)
    },
  }
}
