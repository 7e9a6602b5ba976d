/**
 * `gatehouse users revoke SUB`: signs a user out everywhere. Writes a per-subject not-before to L2 (a
 * token with `iat` before it is revoked at every edge within the revocation bound), then ends every
 * live login session of the user: refresh families revoked, and a back-channel logout queued for each
 * client that had tokens in them (the origins deliver it). Talks to the same L2 as the origin:
 * UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.
 *
 * @example UPSTASH_REDIS_REST_URL=… UPSTASH_REDIS_REST_TOKEN=… gatehouse users revoke u-42
 */
import { enqueueLogoutNotices } from '../core/oauth/backchannel-queue.ts'
import { createRefreshTokens } from '../core/oauth/refresh-tokens.ts'
import { createSessions } from '../core/oauth/sessions.ts'
import {
  createOAuthRevoker,
  createRevocationWriter,
  isRevocableId,
  MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
} from '../revocation/index.ts'
import { createUpstashStore } from '../store/upstash.ts'
import type { Store } from '../store/types.ts'
import { UsageError } from './keys.ts'

/** The schema's longest refresh-token lifetime: a tombstone for a family never outlives less. */
const MAX_REFRESH_TOKEN_LIFETIME_SECONDS = 90 * 86_400

export async function usersRevoke(
  args: string[],
  env: Record<string, string | undefined>,
  store?: Store,
): Promise<{ sub: string; notBefore: number; sessionsEnded: number }> {
  const [sub, ...extra] = args
  if (sub === undefined || extra.length > 0 || !isRevocableId(sub))
    throw new UsageError('usage: gatehouse users revoke SUB')
  const url = env.UPSTASH_REDIS_REST_URL
  const token = env.UPSTASH_REDIS_REST_TOKEN
  if (!store && (!url || !token))
    throw new UsageError(
      'set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the origin’s L2)',
    )
  const l2 = store ?? createUpstashStore({ url: url!, token: token! })
  const writer = createRevocationWriter({
    store: l2,
    maxAccessTokenLifetimeSeconds: MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
  })
  const notBefore = await writer.revokeSubject(sub)
  // Ending a session needs no config: its record names its families and clients.
  const revoker = createOAuthRevoker({ store: l2 })
  const sessions = createSessions({
    store: l2,
    revoker,
    refreshTokens: createRefreshTokens({
      store: l2,
      revoker,
      ttlSeconds: MAX_REFRESH_TOKEN_LIFETIME_SECONDS,
      graceSeconds: 0,
    }),
    ttlSeconds: 1, // unused: this instance creates no session
    backchannel: { enqueue: (notices) => enqueueLogoutNotices(l2, notices) },
  })
  return { sub, notBefore, sessionsEnded: await sessions.endAllOf(sub, 'subject_revoked') }
}
