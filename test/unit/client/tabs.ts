/**
 * A pretend browser for the client's unit tests: "tabs" that share one lock manager and one
 * broadcast bus (as tabs of one origin do) but each have their own sessionStorage, address bar and
 * navigations. The authorization server is the real OAuth route group in-process (../oauth/support.ts);
 * the hosted login is driven with its cookie-jar `Browser`.
 */
import type {
  ChannelLike,
  ClientEnvironment,
  LockManagerLike,
  StorageLike,
} from '../../../src/client/index.ts'
import { memoryKeyStore, type DpopKeyStore } from '../../../src/client/dpop-key.ts'
import {
  createGatehouseClient,
  type GatehouseClient,
  type GatehouseClientOptions,
} from '../../../src/client/index.ts'
import { Browser, ISSUER, SPA_LOGOUT, SPA_REDIRECT, USER, type Harness } from '../oauth/support.ts'

/** Web Locks semantics that matter here: exclusive, FIFO per name, `query()` lists held locks. */
export function sharedLocks(): LockManagerLike {
  const queues = new Map<string, (() => void)[]>()
  const held = new Set<string>()
  const grantNext = (name: string): void => {
    const next = queues.get(name)?.shift()
    if (next) next()
    else held.delete(name)
  }
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      return new Promise<void>((granted) => {
        if (!held.has(name)) {
          held.add(name)
          granted()
        } else {
          const queue = queues.get(name) ?? []
          queue.push(granted)
          queues.set(name, queue)
        }
      }).then(async () => {
        try {
          return await callback()
        } finally {
          grantNext(name)
        }
      })
    },
    query: async () => ({ held: [...held].map((name) => ({ name })) }),
  }
}

/**
 * Broadcast between channels of one name, delivered asynchronously like the real thing. `filter`
 * may drop a message on its way to one receiver (to model messages arriving late or never).
 */
export function sharedBus() {
  const channels = new Map<string, Set<ChannelLike>>()
  let filter: (message: unknown, to: ChannelLike) => boolean = () => true
  return {
    setFilter(f: typeof filter) {
      filter = f
    },
    open(name: string): ChannelLike {
      const peers = channels.get(name) ?? new Set<ChannelLike>()
      channels.set(name, peers)
      const channel: ChannelLike = {
        onmessage: null,
        postMessage(message) {
          const copy: unknown = structuredClone(message)
          for (const peer of peers) {
            if (peer === channel || !filter(copy, peer)) continue
            setTimeout(() => peer.onmessage?.({ data: copy }), 0)
          }
        },
        close() {
          peers.delete(channel)
        },
      }
      peers.add(channel)
      return channel
    },
  }
}

export function memoryStorage(): StorageLike & { values(): string[]; keys(): string[] } {
  const map = new Map<string, string>()
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
    values: () => [...map.values()],
    keys: () => [...map.keys()],
  }
}

export interface Tab {
  client: GatehouseClient
  storage: ReturnType<typeof memoryStorage>
  navigations: string[]
  replaced: string[]
  /** Long timers (the refresh schedule), fired by the test. */
  timers: { callback: () => void; ms: number; cleared: boolean }[]
  /** The same tab after a reload: same sessionStorage, fresh memory. */
  reload(): Tab
  /** What the tab's client was given as its browser. */
  environment: ClientEnvironment
}

export interface Browserish {
  locks: LockManagerLike
  bus: ReturnType<typeof sharedBus>
  /** The cookie jar at the issuer (the hosted login session). */
  browser: Browser
  /** Every request the clients sent, for counting token-endpoint calls. */
  requests: { url: string; body: string }[]
  /** Answers requests to https://api.test (a resource server); the issuer is the real app. */
  api?: (request: Request) => Promise<Response>
  /** Answers requests it returns a response for before the app sees them (another issuer). */
  intercept?: (request: Request) => Response | undefined
  /** The origin's DPoP keys, shared by its tabs as IndexedDB is. */
  dpopKeys: DpopKeyStore
  openTab(
    storage?: ReturnType<typeof memoryStorage>,
    options?: Partial<GatehouseClientOptions>,
  ): Tab
}

export function createBrowserish(h: Harness): Browserish {
  const locks = sharedLocks()
  const bus = sharedBus()
  const browser = new Browser(h.fetch)
  const requests: { url: string; body: string }[] = []
  const dpopKeys = memoryKeyStore()
  const fetchIntoApp: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    if (request.url.startsWith('https://api.test/') && result.api) return result.api(request)
    const intercepted = result.intercept?.(request)
    if (intercepted) return intercepted
    requests.push({ url: request.url, body: await request.clone().text() })
    return h.fetch(request)
  }
  const openTab = (
    storage = memoryStorage(),
    options: Partial<GatehouseClientOptions> = {},
  ): Tab => {
    const navigations: string[] = []
    const replaced: string[] = []
    const timers: Tab['timers'] = []
    const environment: ClientEnvironment = {
      fetch: fetchIntoApp,
      storage,
      locks,
      openChannel: (name) => bus.open(name),
      navigate: (url) => void navigations.push(url),
      replaceUrl: (url) => void replaced.push(url),
      now: () => Date.now(),
      dpopKeys,
      // Long timers (the refresh schedule) are recorded for the test to fire; short ones are real.
      setTimeout: (callback, ms) => {
        if (ms < 30_000) return setTimeout(callback, ms)
        const entry = { callback, ms, cleared: false }
        timers.push(entry)
        return entry
      },
      clearTimeout: (handle) => {
        const entry = timers.find((t) => t === handle)
        if (entry) entry.cleared = true
        else clearTimeout(handle as ReturnType<typeof setTimeout>)
      },
    }
    const client = createGatehouseClient({
      issuer: ISSUER,
      clientId: 'spa',
      redirectUri: SPA_REDIRECT,
      postLogoutRedirectUri: SPA_LOGOUT,
      scope: 'openid profile email read',
      // A live peer always answers: a generous wait, so a busy machine cannot make a tab give up.
      peerTimeoutMs: 10_000,
      environment,
      ...options,
    })
    return {
      client,
      storage,
      navigations,
      replaced,
      timers,
      // After a reload no peer is left to answer (the closed tab's lock may still be on its way out),
      // so the wait for one can only expire: keep it short.
      reload: () => openTab(storage, { ...options, peerTimeoutMs: 200 }),
      environment,
    }
  }
  const result: Browserish = { locks, bus, browser, requests, dpopKeys, openTab }
  return result
}

/**
 * Follows the tab's last navigation to /authorize with the cookie jar, signing in on the hosted form
 * when it is shown; returns the callback URL the issuer redirected to.
 */
export async function followLogin(
  b: Browserish,
  tab: Tab,
  credentials: { username: string; password: string } = USER,
): Promise<string> {
  const url = tab.navigations.at(-1)
  if (!url?.startsWith(`${ISSUER}/authorize`)) throw new Error('the tab did not go to /authorize')
  let response = await b.browser.request(url)
  if (response.status === 200)
    response = await b.browser.submitLogin(
      await response.text(),
      credentials.username,
      credentials.password,
    )
  const location = response.headers.get('location')
  if (!location) throw new Error(`no redirect from the issuer (${response.status})`)
  return location
}

/** A tab signed in through the whole front channel. */
export async function signedInTab(
  b: Browserish,
  options: Partial<GatehouseClientOptions> = {},
): Promise<Tab> {
  const tab = b.openTab(undefined, options)
  await tab.client.start('https://app.test/')
  await tab.client.login()
  await tab.client.start(await followLogin(b, tab))
  if (tab.client.state.status !== 'signed-in') throw new Error('sign-in failed')
  return tab
}

/**
 * Resolves once `predicate` holds, checking after each macrotask (messages are async). The deadline
 * is generous: signing and hashing run on libuv's thread pool, which a busy machine slows down.
 */
export async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 10_000
  while (performance.now() < deadline) {
    if (predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  throw new Error(`timed out waiting for ${what}`)
}
