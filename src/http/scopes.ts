/**
 * Scope and audience checks done after signature and claim verification, for routes that need more
 * than a valid token. Scope is the space-separated `scope` claim (RFC 9068 §2.2.3.1, RFC 6749 §3.3).
 */
import { AuthError } from '../core/errors.ts'
import type { VerifiedToken } from '../core/types.ts'
import { InsufficientScopeError } from './auth-response.ts'

// RFC 6749 §3.3: scope-token = 1*NQCHAR
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/**
 * Throws `InsufficientScopeError` (403) unless the token's scope claim holds every required scope.
 *
 * @example assertScopes(verified, ['read:orders'])
 */
export function assertScopes(verified: VerifiedToken, required: readonly string[]): void {
  if (required.length === 0) return
  const scope = verified.claims.scope
  const granted = typeof scope === 'string' ? new Set(scope.split(' ')) : new Set<string>()
  if (!required.every((s) => granted.has(s))) throw new InsufficientScopeError([...required])
}

/**
 * Throws `audience_mismatch` (401) unless `aud` is, or contains, `audience` (RFC 7519 §4.1.3).
 *
 * @example assertAudience(verified, 'https://api.example')
 */
export function assertAudience(verified: VerifiedToken, audience: string): void {
  const aud = verified.claims.aud
  const ok = Array.isArray(aud) ? aud.includes(audience) : aud === audience
  if (!ok)
    throw new AuthError('audience_mismatch', 'the access token is not meant for this audience')
}
