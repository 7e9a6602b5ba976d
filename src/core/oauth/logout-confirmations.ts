/**
 * Logouts waiting for the user's confirmation (OIDC RP-Initiated Logout 1.0 §2: the OP asks the user
 * when the request carries no ID token of the browser's own session). Same defence as the login form
 * (login-requests.ts): the pending logout is stored under the SHA-256 of a random form token (256
 * bits), together with the digest of a cookie bound to this browser. The confirming POST must carry
 * both and they must match, so a page on another site can neither read the token nor use one it got
 * in its own browser. A token is used once (compare-and-swap to absent).
 *
 * @example
 * const token = await confirmations.create(pending, browserBinding)
 * const pending = await confirmations.take(token, browserBinding) // PendingLogout | undefined
 */
import type { Clock } from '../types.ts'
import { randomToken, sha256, timingSafeEqual } from './crypto.ts'
import type { PendingLogout } from './logout.ts'
import { keys, parseRecord, type OAuthStore } from './store.ts'

interface ConfirmationRecord {
  pending: PendingLogout
  bindingHash: string
  expiresAt: number
}

export interface LogoutConfirmations {
  create(pending: PendingLogout, binding: string): Promise<string>
  /** The pending logout, once, if the token is live and bound to `binding`. */
  take(token: string, binding: string | undefined): Promise<PendingLogout | undefined>
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

export function createLogoutConfirmations(options: {
  store: OAuthStore
  ttlSeconds: number
  clock?: Clock
}): LogoutConfirmations {
  const { store, ttlSeconds } = options
  const clock = options.clock ?? Date.now
  return {
    async create(pending, binding) {
      const token = randomToken(32)
      const record: ConfirmationRecord = {
        pending,
        bindingHash: await sha256(binding),
        expiresAt: clock() + ttlSeconds * 1000,
      }
      await store.set(keys.logoutConfirmation(await sha256(token)), JSON.stringify(record), {
        ttlSeconds,
      })
      return token
    },
    async take(token, binding) {
      if (!TOKEN_SHAPE.test(token) || binding === undefined || binding.length > 256)
        return undefined
      const key = keys.logoutConfirmation(await sha256(token))
      const raw = await store.get(key)
      const record = parseRecord<ConfirmationRecord>(raw)
      if (!record || record.expiresAt <= clock()) return undefined
      if (!timingSafeEqual(await sha256(binding), record.bindingHash)) return undefined
      // Single use: of two concurrent confirmations, one ends the sessions, the other is refused.
      return (await store.compareAndSwap(key, raw, null)) ? record.pending : undefined
    },
  }
}
