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
import { randomToken, sha256, timingSafeEqual } from './crypto.ts'
import { keys, parseRecord, type OAuthStore } from './store.ts'

interface LoginRequestRecord {
  request: AuthorizationRequest
  bindingHash: string
  expiresAt: number
}

export interface LoginRequests {
  create(request: AuthorizationRequest, binding: string): Promise<string>
  find(csrfToken: string, binding: string | undefined): Promise<AuthorizationRequest | undefined>
  consume(csrfToken: string): Promise<void>
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

export function createLoginRequests(options: {
  store: OAuthStore
  ttlSeconds: number
  clock?: Clock
}): LoginRequests {
  const { store, ttlSeconds } = options
  const clock = options.clock ?? Date.now
  return {
    async create(request, binding) {
      const csrfToken = randomToken(32)
      const record: LoginRequestRecord = {
        request,
        bindingHash: await sha256(binding),
        expiresAt: clock() + ttlSeconds * 1000,
      }
      await store.set(keys.loginRequest(await sha256(csrfToken)), JSON.stringify(record), {
        ttlSeconds,
      })
      return csrfToken
    },
    async find(csrfToken, binding) {
      if (!TOKEN_SHAPE.test(csrfToken) || binding === undefined || binding.length > 256)
        return undefined
      const record = parseRecord<LoginRequestRecord>(
        await store.get(keys.loginRequest(await sha256(csrfToken))),
      )
      if (!record || record.expiresAt <= clock()) return undefined
      return timingSafeEqual(await sha256(binding), record.bindingHash) ? record.request : undefined
    },
    async consume(csrfToken) {
      if (TOKEN_SHAPE.test(csrfToken))
        await store.delete(keys.loginRequest(await sha256(csrfToken)))
    },
  }
}
