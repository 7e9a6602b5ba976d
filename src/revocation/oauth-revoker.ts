/**
 * The `Revoker` the OAuth core calls from `/revoke`, `/logout`, `/introspect` and `/userinfo`, built on
 * the revocation records the edge filter follows (records.ts), so the origin and every edge share one
 * record layout and one stream.
 *
 * @example
 * const oauth = await createOAuthContext({ config, store, passwords, revoker: createOAuthRevoker({ store }) })
 */
import type { Revoker } from '../core/oauth/revocation.ts'
import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import { createRevocationReader, createRevocationWriter, type RevocationWriter } from './records.ts'

/**
 * The config schema's upper bound on access-token lifetime (DESIGN.md: 5–15 minutes). Records outlive
 * it, so a later config change cannot leave a record shorter than a live token.
 */
export const MAX_ACCESS_TOKEN_LIFETIME_SECONDS = 900

export function createOAuthRevoker(options: {
  store: Pick<Store, 'get' | 'appendToStream'>
  now?: Clock
}): Revoker & { writer: RevocationWriter } {
  const writer = createRevocationWriter({
    store: options.store,
    maxAccessTokenLifetimeSeconds: MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
    ...(options.now ? { now: options.now } : {}),
  })
  const reader = createRevocationReader({ store: options.store })
  return {
    writer,
    revokeAccessToken: async (jti, exp) => void (await writer.revokeToken(jti, exp)),
    revokeSession: (sid) => writer.revokeSession(sid),
    isRevoked: (claims) => reader.isRevoked(claims),
  }
}
