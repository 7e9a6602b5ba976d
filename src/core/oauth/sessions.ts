/**
 * Login sessions at the origin. The cookie value is `<sid>.<secret>`: `sid` (128 random bits) names the
 * record and is the `sid` claim in tokens; `secret` (256 random bits) is known only to the browser,
 * stored as a SHA-256 digest and compared in constant time. A leaked token therefore reveals the
 * session's name, never a cookie that opens it.
 *
 * The record (TTL = session lifetime) lists the clients that received tokens in it and the refresh
 * families started in it, linked before any token is returned. Ending a session — RP-initiated logout,
 * "revoke all sessions" of a user, a refresh family replayed (RFC 9700 §4.14.2) — queues a back-channel
 * logout notice for each of those clients (OIDC Back-Channel Logout 1.0 §2.5), writes a `sid`
 * revocation that stops the session's access tokens at the edge, revokes its refresh families, and
 * only then deletes the record: a crash part-way leaves the record, so ending it again redoes every
 * step (each is idempotent). A per-subject index lists a user's live sessions so all can be ended.
 *
 * @example
 * const { cookieValue, session } = await sessions.create({ sub: user.sub })
 * const current = await sessions.lookup(cookieValue) // SessionRecord | undefined
 * await sessions.end(current.sid, 'logout')
 */
import type { Clock } from '../types.ts'
import type { LogoutNotice } from './backchannel-queue.ts'
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
  /** Clients that received tokens in this session (absent in records written before it existed). */
  clients?: string[]
}

/** Why a session ended; carried into logs and metrics. */
export type SessionEndReason = 'logout' | 'subject_revoked' | 'refresh_reuse'

export interface Sessions {
  create(input: { sub: string }): Promise<{ cookieValue: string; session: SessionRecord }>
  lookup(cookieValue: string | undefined): Promise<SessionRecord | undefined>
  /** True while the session exists (not logged out, not expired). */
  isActive(sid: string): Promise<boolean>
  /**
   * Records that `clientId` receives tokens in the session (and its refresh family, if any), before
   * they are returned; false if the session has ended meanwhile (then nothing may be issued).
   */
  link(sid: string, link: { clientId: string; familyId?: string | undefined }): Promise<boolean>
  /** Ends the session (see the file comment); false when there was no such live session. */
  end(sid: string, reason: SessionEndReason): Promise<boolean>
  /** Ends every live session of `sub`; resolves how many were ended. */
  endAllOf(sub: string, reason: SessionEndReason): Promise<number>
}

/** Where ended sessions send their back-channel logout notices (backchannel-queue.ts). */
export interface LogoutNotifier {
  enqueue(notices: readonly LogoutNotice[]): Promise<void>
}

export interface SessionsOptions {
  store: OAuthStore
  refreshTokens: Pick<RefreshTokens, 'revokeFamily'>
  revoker: Revoker
  ttlSeconds: number
  /** Default: none (no client is told; tests of other parts). */
  backchannel?: LogoutNotifier
  /** Called after a session ended, for logs and metrics (never with a secret). */
  onEnded?: (event: { sid: string; reason: SessionEndReason; clients: number }) => void
  clock?: Clock
}

interface SubjectSessions {
  sessions: { sid: string; expiresAt: number }[]
}

const COOKIE_SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/
const SID_SHAPE = /^[A-Za-z0-9_-]{22}$/
const MAX_FAMILIES = 100
const MAX_CLIENTS = 100
/** Live sessions remembered per subject; the oldest fall out of the index (they still expire). */
const MAX_SUBJECT_SESSIONS = 50

export function createSessions(options: SessionsOptions): Sessions {
  const { store, refreshTokens, revoker, ttlSeconds, backchannel } = options
  const clock = options.clock ?? Date.now
  const ttlOf = (s: SessionRecord): number => Math.max(1, Math.ceil((s.expiresAt - clock()) / 1000))
  const subjectKey = async (sub: string): Promise<string> => keys.subjectSessions(await sha256(sub))
  const read = async (sid: string): Promise<SessionRecord | undefined> =>
    SID_SHAPE.test(sid) ? parseRecord<SessionRecord>(await store.get(keys.session(sid))) : undefined

  const notices = (s: SessionRecord, clients: readonly string[]): LogoutNotice[] =>
    clients.map((clientId) => ({ clientId, sub: s.sub, sid: s.sid }))

  async function forget(sub: string, sids: readonly string[]): Promise<void> {
    await updateJson<SubjectSessions>(store, await subjectKey(sub), (index) => {
      if (!index) return undefined
      const sessions = index.sessions.filter((s) => !sids.includes(s.sid))
      return sessions.length === 0 ? null : { sessions }
    })
  }

  async function end(sid: string, reason: SessionEndReason): Promise<boolean> {
    const before = await read(sid)
    const told = before?.clients ?? []
    // Notices first: queued durably before anything else, so no client is forgotten by a crash.
    if (before && backchannel && told.length > 0) await backchannel.enqueue(notices(before, told))
    if (SID_SHAPE.test(sid)) await revoker.revokeSession(sid)
    if (before) await Promise.all(before.families.map((f) => refreshTokens.revokeFamily(f)))
    const taken = parseRecord<SessionRecord>(await store.take(keys.session(sid)))
    if (!taken) return false
    // A client linked between our read and the delete (a code redeemed during logout).
    const late = (taken.clients ?? []).filter((c) => !told.includes(c))
    if (backchannel && late.length > 0) await backchannel.enqueue(notices(taken, late))
    const lateFamilies = taken.families.filter((f) => !before?.families.includes(f))
    await Promise.all(lateFamilies.map((f) => refreshTokens.revokeFamily(f)))
    await forget(taken.sub, [sid]).catch(() => undefined) // the index is a hint; entries expire
    const clients = new Set([...told, ...late]).size
    options.onEnded?.({ sid, reason, clients })
    return taken.expiresAt > clock()
  }

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
        clients: [],
      }
      await store.set(keys.session(sid), JSON.stringify(session), { ttlSeconds })
      await updateJson<SubjectSessions>(
        store,
        await subjectKey(sub),
        (index) => {
          const live = (index?.sessions ?? []).filter((s) => s.expiresAt > now)
          return {
            sessions: [...live, { sid, expiresAt: session.expiresAt }].slice(-MAX_SUBJECT_SESSIONS),
          }
        },
        ttlSeconds,
      )
      return { cookieValue: `${sid}.${secret}`, session }
    },

    async lookup(cookieValue) {
      const match = cookieValue === undefined ? null : COOKIE_SHAPE.exec(cookieValue)
      if (!match) return undefined
      const [, sid, secret] = match as unknown as [string, string, string]
      const session = await read(sid)
      if (!session || session.expiresAt <= clock()) return undefined
      return timingSafeEqual(await sha256(secret), session.secretHash) ? session : undefined
    },

    async isActive(sid) {
      const session = await read(sid)
      return session !== undefined && session.expiresAt > clock()
    },

    async link(sid, { clientId, familyId }) {
      const has = (s: SessionRecord): boolean =>
        (s.clients ?? []).includes(clientId) &&
        (familyId === undefined || s.families.includes(familyId))
      const updated = await updateJson<SessionRecord>(
        store,
        keys.session(sid),
        (s) =>
          !s || has(s)
            ? undefined
            : {
                ...s,
                clients: [...new Set([...(s.clients ?? []), clientId])].slice(-MAX_CLIENTS),
                families:
                  familyId === undefined
                    ? s.families
                    : [...s.families, familyId].slice(-MAX_FAMILIES),
              },
        ttlOf,
      )
      return updated !== undefined && updated.expiresAt > clock() && has(updated)
    },

    end,

    async endAllOf(sub, reason) {
      const index = parseRecord<SubjectSessions>(await store.get(await subjectKey(sub)))
      let ended = 0
      for (const { sid } of index?.sessions ?? []) if (await end(sid, reason)) ended += 1
      return ended
    },
  }
}
