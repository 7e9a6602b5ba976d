/**
 * The authorization request in flight: `state`, the PKCE `code_verifier` and the `nonce`, kept in
 * `sessionStorage` for the few seconds of the redirect to the authorization server and back (the page
 * is unloaded in between, so memory cannot carry them). Read once and deleted, expired after ten
 * minutes. The verifier alone is useless to an attacker: it only redeems a code bound to it
 * (RFC 7636 §4), which is single use and lives 60 s.
 */
import type { StorageLike } from './environment.ts'
import { readMigrating, type TabStateNames } from './tab-state.ts'

export interface PendingAuthorization {
  state: string
  codeVerifier: string
  nonce: string
  /** Same-origin path to return to after the callback. */
  returnTo: string
  /** A `prompt=none` attempt: on `login_required` the tab is simply signed out. */
  silent: boolean
  createdAt: number
}

const MAX_AGE_MS = 10 * 60 * 1000

/** A same-origin path (`/x?y#z`), never `//host` or a full URL. */
export const isLocalPath = (value: unknown): value is string =>
  typeof value === 'string' &&
  value.startsWith('/') &&
  !value.startsWith('//') &&
  value.length < 2048

/**
 * @example const pending = pendingStore(sessionStorage, tabStateNames(issuer, 'spa'), Date.now)
 */
export function pendingStore(storage: StorageLike, names: TabStateNames, now: () => number) {
  const key = `${names.base}:pending`
  const legacyKey = `${names.legacyBase}:pending`
  return {
    save(pending: PendingAuthorization): void {
      storage.setItem(key, JSON.stringify(pending))
    },
    /** The pending request if there is a valid, unexpired one; does not delete it. */
    peek(): PendingAuthorization | undefined {
      let value: unknown
      try {
        value = JSON.parse(readMigrating(storage, key, legacyKey) ?? 'null')
      } catch {
        return undefined
      }
      if (typeof value !== 'object' || value === null) return undefined
      const p = value as Record<string, unknown>
      const valid =
        typeof p.state === 'string' &&
        typeof p.codeVerifier === 'string' &&
        typeof p.nonce === 'string' &&
        isLocalPath(p.returnTo) &&
        typeof p.silent === 'boolean' &&
        typeof p.createdAt === 'number' &&
        now() - p.createdAt < MAX_AGE_MS
      return valid ? (p as unknown as PendingAuthorization) : undefined
    },
    clear(): void {
      storage.removeItem(key)
    },
  }
}
