/**
 * The tab's session: the one token set it holds (in memory only; see client.ts), the state it shows
 * to subscribers, the refresh timer, and the tab group it shares tokens with (tab-sync.ts). Token sets
 * from other tabs are adopted only when newer, so a tab never goes back to a spent refresh token.
 */
import type { ClientContext } from './context.ts'
import type { GatehouseClientError } from './errors.ts'
import type { AuthState, SignedInUser } from './options.ts'
import { createTabSync, type TabSync } from './tab-sync.ts'
import type { TokenSet } from './tokens.ts'

const RETRY_AFTER_FAILURE_MS = 15_000

export interface Session {
  readonly state: AuthState
  /** The token set this tab holds, if signed in. */
  readonly tokens: TokenSet | undefined
  readonly sync: TabSync
  setState(next: AuthState): void
  /** Holds `set`, schedules its refresh and shows the user as signed in. */
  adopt(set: TokenSet): void
  /** Forgets the tokens here only and shows the user as signed out. */
  drop(error?: GatehouseClientError): void
  /** Signs out here and in every tab, for everything obtained up to `at`. */
  signOut(at: number, error?: GatehouseClientError): void
  subscribe(listener: (state: AuthState) => void): () => void
  close(): void
}

/** The signed-in user from ID token and UserInfo claims. */
function userOf(claims: Record<string, unknown>): SignedInUser {
  const text = (k: string): string | undefined =>
    typeof claims[k] === 'string' ? (claims[k] as string) : undefined
  const user: SignedInUser = { sub: text('sub') ?? '', claims }
  const name = text('name')
  const email = text('email')
  const preferred = text('preferred_username')
  if (name !== undefined) user.name = name
  if (email !== undefined) user.email = email
  if (preferred !== undefined) user.preferredUsername = preferred
  return user
}

/**
 * A session for one client in this tab. `refresh` is called when the access token is about to
 * expire (refresh.ts); a failed scheduled refresh keeps the tokens and is retried shortly.
 *
 * @example const session = createSession(ctx, () => refreshTokens(ctx, session))
 */
export function createSession(ctx: ClientContext, refresh: () => Promise<boolean>): Session {
  const { env } = ctx
  let state: AuthState = { status: 'loading' }
  let tokens: TokenSet | undefined
  let signedOutAt = 0
  let timer: unknown
  const listeners = new Set<(state: AuthState) => void>()

  const setState = (next: AuthState): void => {
    state = next
    for (const listener of listeners) listener(next)
  }

  const schedule = (): void => {
    env.clearTimeout(timer)
    if (!tokens?.refreshToken) return
    const due = Math.max(0, tokens.expiresAt - ctx.skewMs - env.now())
    timer = env.setTimeout(() => {
      refresh().catch(() => {
        // Offline or the issuer is down: keep the tokens and try again shortly.
        if (tokens)
          timer = env.setTimeout(() => void refresh().catch(() => {}), RETRY_AFTER_FAILURE_MS)
      })
    }, due)
  }

  const adopt = (set: TokenSet): void => {
    tokens = set
    ctx.signedIn.set()
    sync.holdTokens()
    schedule()
    setState({ status: 'signed-in', user: userOf(set.claims), expiresAt: set.expiresAt })
  }

  const drop = (error?: GatehouseClientError): void => {
    tokens = undefined
    env.clearTimeout(timer)
    ctx.signedIn.clear()
    sync.releaseHolder()
    setState(error ? { status: 'signed-out', error } : { status: 'signed-out' })
  }

  const sync = createTabSync({
    env,
    name: ctx.tabStateName,
    current: () => tokens,
    onTokens(set) {
      // Only ever move forward: an older set may carry a refresh token that was already spent.
      if (set.obtainedAt <= signedOutAt) return
      if (tokens && set.obtainedAt <= tokens.obtainedAt) return
      adopt(set)
    },
    onSignedOut(at) {
      signedOutAt = Math.max(signedOutAt, at)
      if (tokens && tokens.obtainedAt <= at) drop()
    },
  })

  return {
    get state() {
      return state
    },
    get tokens() {
      return tokens
    },
    sync,
    setState,
    adopt,
    drop,
    signOut(at, error) {
      signedOutAt = at
      drop(error)
      sync.announceSignedOut(at)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      env.clearTimeout(timer)
      listeners.clear()
      sync.close()
    },
  }
}
