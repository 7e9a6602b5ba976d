/**
 * Pending authorization requests waiting for the user to sign in, and the login form's CSRF defence.
 *
 * When /authorize needs a login, the validated request is stored under the SHA-256 of a random
 * `csrf_token` (256 bits) that the form carries in a hidden field. The record also holds the digest of
 * the browser's pre-login cookie (`HttpOnly`, `SameSite=Lax`, `__Host-` on https). The POST must carry
 * both, and they must match: a cross-site form cannot read the token from our page, and an attacker who
 * starts their own login gets a token bound to *their* cookie, which the victim's browser does not
 * hold — so neither classic CSRF nor login CSRF works. The record is consumed on successful login.
 *
 * @example
 * const csrf = await loginRequests.create(request, preLoginCookie)
 * const pending = await loginRequests.find(csrf, preLoginCookie) // AuthorizationRequest | undefined
 */
import type { Clock } from '../types.ts'
import type { AuthorizationRequest } from './authorize.ts'
import { createBrowserBoundRecords } from './browser-bound-records.ts'
import { keys, type OAuthStore } from './store.ts'

export interface LoginRequests {
  create(request: AuthorizationRequest, binding: string): Promise<string>
  find(csrfToken: string, binding: string | undefined): Promise<AuthorizationRequest | undefined>
  consume(csrfToken: string): Promise<void>
}

export function createLoginRequests(options: {
  store: OAuthStore
  ttlSeconds: number
  clock?: Clock
}): LoginRequests {
  const records = createBrowserBoundRecords<AuthorizationRequest>({
    ...options,
    key: keys.loginRequest,
  })
  return { create: records.create, find: records.find, consume: records.delete }
}
