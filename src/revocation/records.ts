// Revocation records in L2 and the events that announce them (DESIGN.md, "Revocation with a stated
// staleness bound"). A record is the source of truth: `rev:<kind>:<id>` with a TTL that outlives every
// token it can concern. The stream `rev:stream` tells edges which ids to add to their filter; an edge
// that probes a hit confirms it here. Record and event are written in ONE atomic store step
// (`appendToStream` with `record`): a record never exists without the event that announces it. (They
// used to be two writes; a revocation whose event write failed left its record behind, the client's
// retry of /revoke then found the token "already revoked" and was acknowledged without any event, and
// edges never learned of it.)

import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'

/**
 * What a revocation names: one access token, one login session, every token of a subject, or every
 * token signed by one key (`kid`, a compromised signing key: docs/keys.md).
 */
export type RevocationKind = 'jti' | 'sid' | 'sub' | 'kid'

export const REVOCATION_KINDS: readonly RevocationKind[] = ['jti', 'sid', 'sub', 'kid']

/** L2 key layout shared by the writer, the snapshot builder and the edge. */
export const revocationKeys = {
  record: (kind: RevocationKind, id: string): string => `rev:${kind}:${id}`,
  stream: 'rev:stream',
  snapshot: 'rev:snapshot',
} as const

/** The prefix every record key starts with (for a scan of all records). */
export const RECORD_KEY_PREFIX = 'rev:'

/**
 * The kind and id of a record key, or undefined for any other key (the stream, the snapshot).
 *
 * @example parseRecordKey('rev:sid:s-1') // { kind: 'sid', id: 's-1' }
 */
export function parseRecordKey(key: string): { kind: RevocationKind; id: string } | undefined {
  const match = /^rev:(jti|sid|sub|kid):/.exec(key)
  if (!match) return undefined
  const id = key.slice(match[0].length)
  return isRevocableId(id) ? { kind: match[1] as RevocationKind, id } : undefined
}

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
  /** The signing key's id, from the JWS header. */
  kid?: unknown
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
  store: Pick<Store, 'get' | 'appendToStream'>
  /** Longest access-token lifetime the issuer mints (`exp - iat`), seconds; 1 ..= 86,400. */
  maxAccessTokenLifetimeSeconds: number
  /** Clock skew verifiers tolerate past `exp`; records outlive it. Default 60 (the core's maximum). */
  clockLeewaySeconds?: number
  /**
   * The stream is trimmed to about this many newest events. Readers never infer trimming from a
   * count: each event carries the trim point. Default 100,000.
   */
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
  /**
   * Revokes every token signed by key `kid` (a compromised key), for as long as one can be live: the
   * key also leaves the key set at once, and verifiers drop it within their key-set refresh.
   */
  revokeKey(kid: string): Promise<void>
}

const MAX_LIFETIME_SECONDS = 86_400

/**
 * Builds the writer the origin's `/revoke` (RFC 7009 §2.1), `/logout` and the admin API call. Each
 * revocation is one atomic store step that writes the record and appends its event; the promise
 * resolves only once both are in L2, so a caller acknowledges only what edges will see. Every method
 * is idempotent: calling it again leaves the same record (for a subject, the latest not-before wins)
 * and appends one more event, which edges absorb harmlessly.
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

  const revoke = (
    kind: RevocationKind,
    id: string,
    value: string,
    ttlSeconds: number,
    onExisting: 'keep' | 'greater',
  ): Promise<string> =>
    store.appendToStream(
      revocationKeys.stream,
      { kind, id },
      {
        maxLength,
        record: { key: revocationKeys.record(kind, id), value, ttlSeconds, onExisting },
      },
    )

  return {
    async revokeToken(jti, exp) {
      assertId('jti', jti)
      if (typeof exp !== 'number' || !Number.isFinite(exp)) {
        throw new TypeError('exp must be a finite number of seconds')
      }
      // Verifiers accept a token until exp + leeway (RFC 9068 §4, RFC 7519 §4.1.4).
      const ttl = Math.min(exp - nowSeconds(), MAX_LIFETIME_SECONDS) + leeway
      if (ttl <= 0) return false
      await revoke('jti', jti, String(Math.floor(nowSeconds())), ttl, 'keep')
      return true
    },

    async revokeSession(sid) {
      assertId('sid', sid)
      // No token of the session can outlive this: the origin mints none for it after logout.
      await revoke('sid', sid, String(Math.floor(nowSeconds())), lifetime + leeway, 'keep')
    },

    async revokeKey(kid) {
      assertId('kid', kid)
      // Verifiers drop the key from their key set within its refresh (≤ 300 s), well inside this.
      await revoke('kid', kid, String(Math.floor(nowSeconds())), lifetime + leeway, 'keep')
    },

    async revokeSubject(sub, notBefore) {
      assertId('sub', sub)
      const current = nowSeconds()
      const wanted = notBefore ?? Math.floor(current) + 1
      if (!Number.isInteger(wanted) || wanted < 0 || wanted > current + 60) {
        throw new RangeError('notBefore must be whole seconds, not later than now')
      }
      // The last token issued before `wanted` lives until wanted + lifetime (+ leeway).
      const ttl = wanted + lifetime + leeway - current
      if (ttl <= 0) return wanted
      // The later not-before wins under concurrent admins, inside the same atomic step.
      await revoke('sub', sub, String(wanted), ttl, 'greater')
      const inForce = Number(await store.get(revocationKeys.record('sub', sub)))
      return Number.isFinite(inForce) && inForce > wanted ? inForce : wanted
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
