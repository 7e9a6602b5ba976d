/**
 * Revocation records for access tokens and sessions (DESIGN.md, Revocation): a record in L2 with a TTL
 * equal to the remaining lifetime of what it revokes, plus an event on the revocation stream that the
 * edge filter follows. The record is written first, so a reader that sees the event always finds it.
 *
 * @example
 * const revoker = createStoreRevoker({ store, accessTokenTtlSeconds: 600 })
 * await revoker.revokeAccessToken(jti, exp)
 */
import type { Clock } from '../types.ts'
import { keys, type OAuthStore } from './store.ts'

export interface Revoker {
  /** Revoke one access token by `jti` until its `exp` (seconds since the epoch). */
  revokeAccessToken(jti: string, exp: number): Promise<void>
  /** Revoke every access token carrying `sid`, for as long as any of them can live. */
  revokeSession(sid: string): Promise<void>
  /** True if the token's `jti` or `sid` has been revoked. */
  isRevoked(claims: { jti?: unknown; sid?: unknown }): Promise<boolean>
}

export interface StoreRevokerOptions {
  store: OAuthStore
  accessTokenTtlSeconds: number
  clock?: Clock
}

export function createStoreRevoker(options: StoreRevokerOptions): Revoker {
  const { store, accessTokenTtlSeconds } = options
  const clock = options.clock ?? Date.now
  const record = async (kind: 'jti' | 'sid', id: string, ttlSeconds: number): Promise<void> => {
    if (ttlSeconds <= 0) return
    const key = kind === 'jti' ? keys.revokedJti(id) : keys.revokedSid(id)
    const exp = Math.floor(clock() / 1000) + ttlSeconds
    await store.set(key, String(exp), { ttlSeconds })
    await store.appendToStream(keys.revocationStream(), { kind, id, exp: String(exp) })
  }
  return {
    revokeAccessToken: (jti, exp) => record('jti', jti, exp - Math.floor(clock() / 1000)),
    revokeSession: (sid) => record('sid', sid, accessTokenTtlSeconds),
    async isRevoked({ jti, sid }) {
      if (typeof jti === 'string' && (await store.get(keys.revokedJti(jti))) !== null) return true
      return typeof sid === 'string' && (await store.get(keys.revokedSid(sid))) !== null
    },
  }
}
