/**
 * The token set a signed-in tab holds in memory, built from a token response (RFC 6749 §5.1) and
 * passed between tabs. `obtainedAt` orders sets: a tab adopts a set from another tab only if it is
 * newer than its own, so a late answer can never roll a tab back to a refresh token already spent.
 */
import type { TokenEndpointResponse } from 'oauth4webapi'
import { encodeBase64Url } from '../core/base64url.ts'

export interface TokenSet {
  accessToken: string
  /** `dpop` for a token bound to the tab's DPoP key (RFC 9449 §5): API calls need a proof. */
  tokenType?: 'dpop' | 'bearer'
  refreshToken?: string
  idToken?: string
  /** Milliseconds since the epoch when the access token expires (from `expires_in`). */
  expiresAt: number
  /** Milliseconds since the epoch when the set was obtained; orders sets across tabs. */
  obtainedAt: number
  scope?: string
  /** Claims of the validated ID token from sign-in (OIDC Core §2): who the user is. */
  claims: Record<string, unknown>
}

// Without `expires_in` (RFC 6749 §5.1 makes it only RECOMMENDED) assume the shortest lifetime our
// issuer uses (DESIGN.md: 5-15 minutes), so the refresh happens early rather than late.
const DEFAULT_LIFETIME_SECONDS = 300

/**
 * @example const set = tokenSetFrom(response, claims, Date.now(), previous)
 */
export function tokenSetFrom(
  response: TokenEndpointResponse,
  claims: Record<string, unknown> | undefined,
  now: number,
  previous?: TokenSet,
): TokenSet {
  const lifetime =
    typeof response.expires_in === 'number' && response.expires_in > 0
      ? response.expires_in
      : DEFAULT_LIFETIME_SECONDS
  const set: TokenSet = {
    accessToken: response.access_token,
    expiresAt: now + lifetime * 1000,
    obtainedAt: now,
    claims: claims ? { ...claims } : (previous?.claims ?? {}),
  }
  set.tokenType = response.token_type === 'dpop' ? 'dpop' : 'bearer'
  const refreshToken = response.refresh_token ?? previous?.refreshToken
  const idToken = response.id_token ?? previous?.idToken
  const scope = response.scope ?? previous?.scope
  if (refreshToken !== undefined) set.refreshToken = refreshToken
  if (idToken !== undefined) set.idToken = idToken
  if (scope !== undefined) set.scope = scope
  return set
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string'

/** Shape check for a set received from another tab (same origin, but still parsed, not trusted). */
export function isTokenSet(value: unknown): value is TokenSet {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  return (
    typeof s.accessToken === 'string' &&
    s.accessToken.length > 0 &&
    optionalString(s.refreshToken) &&
    optionalString(s.idToken) &&
    optionalString(s.scope) &&
    (s.tokenType === undefined || s.tokenType === 'dpop' || s.tokenType === 'bearer') &&
    typeof s.expiresAt === 'number' &&
    typeof s.obtainedAt === 'number' &&
    typeof s.claims === 'object' &&
    s.claims !== null
  )
}

/**
 * A short, non-reversible name for a refresh token (SHA-256, 128 bits, base64url), used in lock
 * names. The token itself never leaves memory.
 */
export async function fingerprint(token: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)),
  )
  return encodeBase64Url(digest.subarray(0, 16))
}
