/**
 * `gatehouse users revoke SUB`: revokes every token of a user, now and at every edge within the
 * revocation bound, by writing a per-subject not-before to L2 (a token with `iat` before it is
 * revoked). Talks to the same L2 as the origin: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.
 *
 * @example UPSTASH_REDIS_REST_URL=… UPSTASH_REDIS_REST_TOKEN=… gatehouse users revoke u-42
 */
import {
  createRevocationWriter,
  isRevocableId,
  MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
} from '../revocation/index.ts'
import { createUpstashStore } from '../store/upstash.ts'
import type { Store } from '../store/types.ts'
import { UsageError } from './keys.ts'

export async function usersRevoke(
  args: string[],
  env: Record<string, string | undefined>,
  store?: Store,
): Promise<{ sub: string; notBefore: number }> {
  const [sub, ...extra] = args
  if (sub === undefined || extra.length > 0 || !isRevocableId(sub))
    throw new UsageError('usage: gatehouse users revoke SUB')
  const url = env.UPSTASH_REDIS_REST_URL
  const token = env.UPSTASH_REDIS_REST_TOKEN
  if (!store && (!url || !token))
    throw new UsageError(
      'set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the origin’s L2)',
    )
  const writer = createRevocationWriter({
    store: store ?? createUpstashStore({ url: url!, token: token! }),
    maxAccessTokenLifetimeSeconds: MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
  })
  return { sub, notBefore: await writer.revokeSubject(sub) }
}
