/**
 * Logouts waiting for the user's confirmation (OIDC RP-Initiated Logout 1.0 §2: the OP asks the user
 * when the request carries no ID token of the browser's own session). The confirmation form's token
 * names the pending logout and is bound to this browser (browser-bound-records.ts, the same defence
 * as the login form), and it is used once.
 *
 * @example
 * const token = await confirmations.create(pending, browserBinding)
 * const pending = await confirmations.take(token, browserBinding) // PendingLogout | undefined
 */
import type { Clock } from '../types.ts'
import { createBrowserBoundRecords } from './browser-bound-records.ts'
import type { PendingLogout } from './logout.ts'
import { keys, type OAuthStore } from './store.ts'

export interface LogoutConfirmations {
  create(pending: PendingLogout, binding: string): Promise<string>
  /** The pending logout, once, if the token is live and bound to `binding`. */
  take(token: string, binding: string | undefined): Promise<PendingLogout | undefined>
}

export function createLogoutConfirmations(options: {
  store: OAuthStore
  ttlSeconds: number
  clock?: Clock
}): LogoutConfirmations {
  const records = createBrowserBoundRecords<PendingLogout>({
    ...options,
    key: keys.logoutConfirmation,
  })
  return { create: records.create, take: records.take }
}
