/**
 * Login sessions at the origin. The cookie value is `<sid>.<secret>`: `sid` (128 random bits) names the
 * record and is the `sid` claim in tokens; `secret` (256 random bits) is known only to the browser,
 * stored as a SHA-256 digest and compared in constant time. A leaked token therefore reveals the
 * session's name, never a cookie that opens it. The record (TTL = session lifetime) lists the refresh
 * families started in it, so ending the session revokes them (RP-initiated logout) and writes a `sid`
 * revocation that stops the session's access tokens at the edge.
 *
 * @example
 * const { cookieValue, session } = await sessions.create({ sub: user.sub })
 * const current = await sessions.lookup(cookieValue) // SessionRecord | undefined
 */
import type { Clock } from '../types.ts'
import { randomToken, sha256, timingSafeEqual } from './crypto.ts'
import type { RefreshTokens } from './refresh-tokens.ts'
import type { Revoker } from './revocation.ts'
import { keys, parseRecord, updateJson, type OAuthStore } from './store.ts'

export interface SessionRecord {
  sid: string
  sub: string
  secretHash: string
  /** Seconds since the epoch (OIDC `auth_time`). */
  authTime: number
  /** Milliseconds since the epoch. */
  expiresAt: number
  families: string[]
}

export interface Sessions {
  create(input: { sub: string }): Promise<{ cookieValue: string; session: SessionRecord }>
  lookup(cookieValue: string | undefined): Promise<SessionRecord | undefined>
  /** True while the session exists (not logged out, not expired). */
  isActive(sid: string): Promise<boolean>
  /** Links a refresh family to the session; false if the session has ended meanwhile. */
  addFamily(sid: string, familyId: string): Promise<boolean>
  /** Deletes the session, revokes its refresh families and its access tokens (by `sid`). */
  end(sid: string): Promise<boolean>
}

export interface SessionsOptions {
  store: OAuthStore
  refreshTokens: RefreshTokens
  revoker: Revoker
  ttlSeconds: number
  clock?: Clock
}

const COOKIE_SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/
const MAX_FAMILIES = 100

export function createSessions(options: SessionsOptions): Sessions {
  const { store, refreshTokens, revoker, ttlSeconds } = options
  const clock = options.clock ?? Date.now
  const ttlOf = (s: SessionRecord): number => Math.max(1, Math.ceil((s.expiresAt - clock()) / 1000))

  return {
    async create({ sub }) {
      const sid = randomToken(16)
      const secret = randomToken(32)
      const now = clock()
      const session: SessionRecord = {
        sid,
        sub,
        secretHash: await sha256(secret),
        authTime: Math.floor(now / 1000),
        expiresAt: now + ttlSeconds * 1000,
        families: [],
      }
      await store.set(keys.session(sid), JSON.stringify(session), { ttlSeconds })
      return { cookieValue: `${sid}.${secret}`, session }
    },

    async lookup(cookieValue) {
      const match = cookieValue === undefined ? null : COOKIE_SHAPE.exec(cookieValue)
      if (!match) return undefined
      const [, sid, secret] = match as unknown as [string, string, string]
      const session = parseRecord<SessionRecord>(await store.get(keys.session(sid)))
      if (!session || session.expiresAt <= clock()) return undefined
      return timingSafeEqual(await sha256(secret), session.secretHash) ? session : undefined
    },

    async isActive(sid) {
      const session = parseRecord<SessionRecord>(await store.get(keys.session(sid)))
      return session !== undefined && session.expiresAt > clock()
    },

    async addFamily(sid, familyId) {
      const updated = await updateJson<SessionRecord>(
        store,
        keys.session(sid),
        (s) => (s ? { ...s, families: [...s.families, familyId].slice(-MAX_FAMILIES) } : undefined),
        ttlOf,
      )
      return updated?.families.includes(familyId) ?? false
    },

    async end(sid) {
      const session = parseRecord<SessionRecord>(await store.take(keys.session(sid)))
      await revoker.revokeSession(sid)
      if (!session) return false
      await Promise.all(session.families.map((f) => refreshTokens.revokeFamily(f)))
      return true
    },
  }
}
