/**
 * What the OAuth core needs from revocation (DESIGN.md, "Revocation with a stated staleness bound"). The
 * implementation lives with the edge filter it feeds (src/revocation/oauth-revoker.ts), so origin and
 * edge share one record layout; the core stays free of it.
 */

export interface Revoker {
  /** Revoke one access token by `jti` until its `exp` (seconds since the epoch). */
  revokeAccessToken(jti: string, exp: number): Promise<void>
  /** Revoke every access token carrying `sid`, for as long as any of them can live. */
  revokeSession(sid: string): Promise<void>
  /** True if the token's `jti`, `sid`, `sub` (not-before) or signing key (`kid`) has been revoked. */
  isRevoked(claims: { jti?: unknown; sid?: unknown; kid?: unknown }): Promise<boolean>
}
