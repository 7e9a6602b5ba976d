/**
 * Where a client keeps its per-tab state: the sessionStorage keys (the pending sign-in, the "was
 * signed in" flag) and the name its BroadcastChannel and Web Locks start with. One set per
 * (issuer, client id): a page may hold clients of several issuers that share a client id (tenants
 * of one deployment, docs/tenancy.md), and their pending requests, flags and token sets must never
 * mix. The client id is percent-encoded, so no (issuer, client id) pair can spell another's name.
 *
 * Versions before this named the state by client id alone (`gatehouse:{clientId}:…`). sessionStorage
 * outlives a deploy in the middle of a sign-in redirect, so such a value is still read, once, and
 * moved under the new name by the first client of that id that looks for it.
 *
 * @example
 * const names = tabStateNames(new URL('https://auth.example.com/t/acme'), 'spa')
 * const flag = signedInFlag(sessionStorage, names)
 */
import type { StorageLike } from './environment.ts'

export interface TabStateNames {
  /** The prefix of every key, channel and lock name of this (issuer, client id). */
  base: string
  /** The prefix earlier versions used (client id only), read for migration. */
  legacyBase: string
}

export function tabStateNames(issuer: URL, clientId: string): TabStateNames {
  return {
    base: `gatehouse:${encodeURIComponent(clientId)}@${issuer.href}`,
    legacyBase: `gatehouse:${clientId}`,
  }
}

/**
 * The value under `key`, else the one an earlier version stored under `legacyKey`, moved to `key`.
 *
 * @example const text = readMigrating(storage, 'gatehouse:spa@https://a/:pending', 'gatehouse:spa:pending')
 */
export function readMigrating(storage: StorageLike, key: string, legacyKey: string): string | null {
  const value = storage.getItem(key)
  if (value !== null) return value
  const legacy = storage.getItem(legacyKey)
  if (legacy === null) return null
  storage.setItem(key, legacy)
  storage.removeItem(legacyKey)
  return legacy
}

export interface SignedInFlag {
  set(): void
  /** True if this tab was signed in before a reload (set, or set by an earlier version). */
  isSet(): boolean
  clear(): void
}

/**
 * The "was signed in" flag a reload looks for (a flag only: tokens never touch storage).
 *
 * @example const flag = signedInFlag(storage, names); if (flag.isSet()) flag.clear()
 */
export function signedInFlag(storage: StorageLike, names: TabStateNames): SignedInFlag {
  const key = `${names.base}:signed-in`
  const legacyKey = `${names.legacyBase}:signed-in`
  return {
    set: () => storage.setItem(key, '1'),
    isSet: () => readMigrating(storage, key, legacyKey) === '1',
    clear: () => storage.removeItem(key),
  }
}
