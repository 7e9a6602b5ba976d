/**
 * Records a server-rendered form refers to by a random token, bound to the browser that was shown the
 * form: the login form's pending authorization request (login-requests.ts) and a logout waiting for
 * confirmation (logout-confirmations.ts). The record is stored under the SHA-256 of the form token
 * (256 bits, in a hidden field) with the digest of a cookie of that browser; a POST must carry both
 * and they must match. A page on another site can neither read the token from our page nor use one it
 * got in its own browser, which stops CSRF and login CSRF alike.
 *
 * @example
 * const records = createBrowserBoundRecords<Pending>({ store, key: keys.logoutConfirmation, ttlSeconds: 600 })
 * const token = await records.create(pending, bindingCookie)
 * const value = await records.take(token, bindingCookie) // once
 */
import type { Clock } from '../types.ts'
import { randomToken, sha256, timingSafeEqual } from './crypto.ts'
import { parseRecord, type OAuthStore } from './store.ts'

interface BoundRecord<T> {
  value: T
  bindingHash: string
  expiresAt: number
}

export interface BrowserBoundRecords<T> {
  /** Stores `value` bound to `binding`; resolves the form token. */
  create(value: T, binding: string): Promise<string>
  /** The value, if the token is live and bound to `binding`. */
  find(token: string, binding: string | undefined): Promise<T | undefined>
  /** Like `find`, and deletes it atomically: of two concurrent takes, one wins. */
  take(token: string, binding: string | undefined): Promise<T | undefined>
  delete(token: string): Promise<void>
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

export function createBrowserBoundRecords<T>(options: {
  store: OAuthStore
  /** The store key for a token's digest. */
  key: (tokenHash: string) => string
  ttlSeconds: number
  clock?: Clock
}): BrowserBoundRecords<T> {
  const { store, key, ttlSeconds } = options
  const clock = options.clock ?? Date.now

  async function lookup(token: string, binding: string | undefined) {
    if (!TOKEN_SHAPE.test(token) || binding === undefined || binding.length > 256) return undefined
    const storeKey = key(await sha256(token))
    const raw = await store.get(storeKey)
    const record = parseRecord<BoundRecord<T>>(raw)
    if (raw === null || !record || record.expiresAt <= clock()) return undefined
    if (!timingSafeEqual(await sha256(binding), record.bindingHash)) return undefined
    return { storeKey, raw, value: record.value }
  }

  return {
    async create(value, binding) {
      const token = randomToken(32)
      const record: BoundRecord<T> = {
        value,
        bindingHash: await sha256(binding),
        expiresAt: clock() + ttlSeconds * 1000,
      }
      await store.set(key(await sha256(token)), JSON.stringify(record), { ttlSeconds })
      return token
    },
    async find(token, binding) {
      return (await lookup(token, binding))?.value
    },
    async take(token, binding) {
      const found = await lookup(token, binding)
      if (!found) return undefined
      return (await store.compareAndSwap(found.storeKey, found.raw, null)) ? found.value : undefined
    },
    async delete(token) {
      if (TOKEN_SHAPE.test(token)) await store.delete(key(await sha256(token)))
    },
  }
}
