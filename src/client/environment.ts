/**
 * What the browser client touches outside itself, gathered in one object so it can be swapped: the
 * defaults are the page's `fetch`, `sessionStorage`, Web Locks, `BroadcastChannel`, `location` and
 * `history`; tests pass their own. Nothing here holds a token.
 */

/** The part of the Web Locks API we use (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>
  query(): Promise<{ held?: { name?: string | undefined }[] }>
}

/** The part of `BroadcastChannel` we use. */
export interface ChannelLike {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((event: { data: unknown }) => void) | null
}

import type { DpopKeyStore } from './dpop-key.ts'

/** The part of `Storage` we use, for the short-lived PKCE/state record and the signed-in marker. */
export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

export interface ClientEnvironment {
  fetch: typeof fetch
  /** Per-tab storage (`sessionStorage`): never receives a token. */
  storage: StorageLike
  locks: LockManagerLike
  openChannel(name: string): ChannelLike
  /** Leaves the page for the authorization server (`location.assign`). */
  navigate(url: string): void
  /** Rewrites the address bar without a reload (`history.replaceState`), e.g. to drop `?code=`. */
  replaceUrl(url: string): void
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /**
   * Where the DPoP key lives (dpop-key.ts). Default: IndexedDB when the page has it, else memory.
   */
  dpopKeys?: DpopKeyStore
}

/**
 * A lock manager for one tab only, used when `navigator.locks` is missing (an insecure context or an
 * old browser): refreshes are still serialised within the tab, and the server's refresh grace window
 * covers two tabs racing.
 */
export function localLocks(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>()
  const held = new Set<string>()
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve()
      const run = previous
        .catch(() => undefined)
        .then(async () => {
          held.add(name)
          try {
            return await callback()
          } finally {
            held.delete(name)
          }
        })
      tails.set(name, run)
      return run
    },
    query: async () => ({ held: [...held].map((name) => ({ name })) }),
  }
}

/** The real browser, read lazily so merely importing the module has no side effects. */
export function browserEnvironment(): ClientEnvironment {
  const locks = globalThis.navigator?.locks
  return {
    fetch: (input, init) => globalThis.fetch(input, init),
    storage: globalThis.sessionStorage,
    locks: locks
      ? {
          request: (name, callback) => locks.request(name, () => callback()),
          query: () => locks.query(),
        }
      : localLocks(),
    openChannel(name) {
      const channel = new BroadcastChannel(name)
      const like: ChannelLike = {
        postMessage: (message) => channel.postMessage(message),
        close: () => channel.close(),
        onmessage: null,
      }
      channel.onmessage = (event) => like.onmessage?.(event)
      return like
    },
    navigate: (url) => globalThis.location.assign(url),
    replaceUrl: (url) => globalThis.history.replaceState(globalThis.history.state, '', url),
    now: () => Date.now(),
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
  }
}
