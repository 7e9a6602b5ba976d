/**
 * Cross-tab coordination for one client of one issuer (tab-state.ts names it). All tabs of the app share one token set, held only in
 * memory: a tab that has it answers a newcomer's `hello` on a `BroadcastChannel`, and announces a new
 * set after a refresh. Refreshes run under a Web Lock so only one tab at a time spends the refresh
 * token (RFC 9700 §4.14.2: with rotation, a second use of a rotated token looks like theft and
 * revokes the whole family).
 *
 * Messages and locks can arrive in either order, so a tab that gets the refresh lock cannot rely on
 * having seen the winner's broadcast. The winner therefore takes a second lock, named after a
 * fingerprint of the token it spent, before releasing the refresh lock: the lock manager is one
 * authority for all tabs, so the next holder of the refresh lock reliably sees that marker and asks
 * for the new set instead of spending the old token again.
 *
 * @example
 * const sync = createTabSync({ env, name: ctx.tabStateName, current: () => tokens, onTokens, onSignedOut })
 * await sync.withRefreshLock(async () => { ... })
 */
import type { ChannelLike, ClientEnvironment } from './environment.ts'
import type { TokenSet } from './tokens.ts'
import { isTokenSet } from './tokens.ts'

type Message =
  | { type: 'hello'; from: string }
  | { type: 'tokens'; from: string; set: TokenSet }
  | { type: 'signed-out'; from: string; at: number }

export interface TabSyncOptions {
  env: ClientEnvironment
  /** The (issuer, client id)'s state name: the channel's name and its locks' prefix. */
  name: string
  /** This tab's token set, to answer a newcomer. */
  current(): TokenSet | undefined
  /** Another tab obtained or refreshed tokens. */
  onTokens(set: TokenSet): void
  /** Another tab signed out. */
  onSignedOut(at: number): void
  /** How long a rotated-token marker is held. Default 60 s, far longer than any lock wait. */
  rotatedMarkerMs?: number
}

export interface TabSync {
  readonly tabId: string
  announce(set: TokenSet): void
  announceSignedOut(at: number): void
  /** Marks this tab as holding tokens (a lock held until `releaseHolder`), so newcomers ask. */
  holdTokens(): void
  releaseHolder(): void
  /** True if another tab holds tokens right now. */
  peersHoldTokens(): Promise<boolean>
  /** Asks the other tabs for their set; resolves with the first that `accept`s, or undefined. */
  askPeers(timeoutMs: number, accept?: (set: TokenSet) => boolean): Promise<TokenSet | undefined>
  withRefreshLock<T>(run: () => Promise<T>): Promise<T>
  /** Holds the marker for `fingerprint`; resolves once it is held (before the caller unlocks). */
  markRotated(fingerprint: string): Promise<void>
  wasRotated(fingerprint: string): Promise<boolean>
  close(): void
}

function parseMessage(data: unknown): Message | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (typeof m.from !== 'string') return undefined
  if (m.type === 'hello') return { type: 'hello', from: m.from }
  if (m.type === 'tokens' && isTokenSet(m.set)) return { type: 'tokens', from: m.from, set: m.set }
  if (m.type === 'signed-out' && typeof m.at === 'number')
    return { type: 'signed-out', from: m.from, at: m.at }
  return undefined
}

export function createTabSync(options: TabSyncOptions): TabSync {
  const { env } = options
  const prefix = options.name
  const holderPrefix = `${prefix}:holder:`
  const tabId = crypto.randomUUID()
  const markerMs = options.rotatedMarkerMs ?? 60_000
  const channel: ChannelLike = env.openChannel(prefix)
  const waiters = new Set<(set: TokenSet) => void>()
  const cancels = new Set<() => void>()
  let releaseHolderLock: (() => void) | undefined
  let closed = false

  const post = (message: Message): void => {
    if (!closed) channel.postMessage(message)
  }
  channel.onmessage = (event) => {
    const message = parseMessage(event.data)
    if (!message || message.from === tabId) return
    if (message.type === 'hello') {
      const set = options.current()
      if (set) post({ type: 'tokens', from: tabId, set })
    } else if (message.type === 'tokens') {
      options.onTokens(message.set)
      for (const waiter of waiters) waiter(message.set)
    } else {
      options.onSignedOut(message.at)
    }
  }

  const heldNames = async (): Promise<string[]> =>
    ((await env.locks.query()).held ?? []).flatMap((lock) => (lock.name ? [lock.name] : []))

  /** Requests a lock and resolves once it is granted; `release` (when given) lets it go. */
  const acquireAndHold = (name: string, until: Promise<void>): Promise<void> =>
    new Promise<void>((granted) => {
      void env.locks.request(name, () => {
        granted()
        return until
      })
    })

  return {
    tabId,
    announce: (set) => post({ type: 'tokens', from: tabId, set }),
    announceSignedOut: (at) => post({ type: 'signed-out', from: tabId, at }),
    holdTokens() {
      if (releaseHolderLock || closed) return
      const until = new Promise<void>((resolve) => (releaseHolderLock = resolve))
      void acquireAndHold(`${holderPrefix}${tabId}`, until)
    },
    releaseHolder() {
      releaseHolderLock?.()
      releaseHolderLock = undefined
    },
    async peersHoldTokens() {
      const own = `${holderPrefix}${tabId}`
      return (await heldNames()).some((name) => name.startsWith(holderPrefix) && name !== own)
    },
    askPeers(timeoutMs, accept = () => true) {
      return new Promise<TokenSet | undefined>((resolve) => {
        const done = (set: TokenSet | undefined): void => {
          waiters.delete(waiter)
          cancels.delete(cancel)
          env.clearTimeout(timer)
          resolve(set)
        }
        const cancel = (): void => done(undefined)
        const waiter = (set: TokenSet): void => {
          if (accept(set)) done(set)
        }
        const timer = env.setTimeout(() => done(undefined), timeoutMs)
        waiters.add(waiter)
        cancels.add(cancel)
        post({ type: 'hello', from: tabId })
      })
    },
    withRefreshLock: (run) => env.locks.request(`${prefix}:refresh`, run),
    markRotated(fingerprint) {
      const until = new Promise<void>((resolve) => env.setTimeout(resolve, markerMs))
      return acquireAndHold(`${prefix}:rotated:${fingerprint}`, until)
    },
    async wasRotated(fingerprint) {
      return (await heldNames()).includes(`${prefix}:rotated:${fingerprint}`)
    },
    close() {
      closed = true
      releaseHolderLock?.()
      releaseHolderLock = undefined
      channel.onmessage = null
      channel.close()
      for (const cancel of [...cancels]) cancel()
    },
  }
}
