/**
 * Scope and audience rules. Scope (RFC 6749 §3.3): space-delimited scope-tokens; the granted scope is
 * the requested one when it is a subset of what the client may ask for, or the client's default scope
 * when none is requested. Audience (RFC 8707 §2): a `resource` must be an absolute URI without
 * fragment and one of the client's audiences; without one, the client's default audience.
 */
import type { ClientConfig } from './config.ts'
import { OAuthError } from './errors.ts'

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/**
 * Splits a scope parameter; throws `invalid_scope` on a malformed value. Duplicates collapse.
 *
 * @example parseScope('openid profile') // ['openid', 'profile']
 */
export function parseScope(scope: string): string[] {
  const parts = scope.split(' ')
  if (parts.some((p) => !SCOPE_TOKEN.test(p)))
    throw new OAuthError('invalid_scope', 'The scope parameter is malformed.')
  return [...new Set(parts)]
}

/**
 * The scope to grant, as a space-delimited string. `allowed` defaults to the client's scopes.
 *
 * @example grantScope('read write', client) // 'read write' if the client may have both
 */
export function grantScope(
  requested: string | undefined,
  client: ClientConfig,
  allowed: readonly string[] = client.scopes,
): string {
  if (requested === undefined)
    return client.defaultScopes.filter((s) => allowed.includes(s)).join(' ')
  const scopes = parseScope(requested)
  if (scopes.some((s) => !allowed.includes(s)))
    throw new OAuthError('invalid_scope', 'The requested scope is not allowed for this client.')
  return scopes.join(' ')
}

/** True if a space-delimited scope string contains `scope`. */
export const hasScope = (scopes: string, scope: string): boolean =>
  scopes.split(' ').includes(scope)

/**
 * The `aud` for an access token: the `resource` when it is one of the client's audiences, else the
 * client's default audience, else its first audience, else the issuer itself (tokens only good for
 * the issuer's own userinfo endpoint).
 *
 * @example resolveAudience('https://api.example.com', client, issuer)
 */
export function resolveAudience(
  resource: string | undefined,
  client: ClientConfig,
  issuer: string,
): string {
  if (resource !== undefined) {
    if (!isAbsoluteUriWithoutFragment(resource))
      throw new OAuthError('invalid_target', 'The resource parameter must be an absolute URI.')
    if (!client.audiences.includes(resource))
      throw new OAuthError(
        'invalid_target',
        'The requested resource is not allowed for this client.',
      )
    return resource
  }
  return client.defaultAudience ?? client.audiences[0] ?? issuer
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (value.includes('#')) return false
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}
