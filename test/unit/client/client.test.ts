/**
 * The browser client against the real OAuth route group (in-process, memory store): sign-in with PKCE,
 * the callback's `state` and `iss` checks, tokens kept out of storage, restore after reload (other
 * tabs first, then `prompt=none`), refresh coordinated across tabs, logout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createGatehouseClient, GatehouseClientError } from '../../../src/client/index.ts'
import {
  createHarness,
  ISSUER,
  SPA_LOGOUT,
  SPA_REDIRECT,
  USER,
  type Harness,
} from '../oauth/support.ts'
import {
  createBrowserish,
  followLogin,
  signedInTab,
  until,
  type Browserish,
  type Tab,
} from './tabs.ts'

let h: Harness
let b: Browserish
const tabs: Tab[] = []
const track = (tab: Tab): Tab => (tabs.push(tab), tab)

beforeEach(async () => {
  // Grace 0: a second use of a rotated refresh token revokes the family, so a race would show.
  h = await createHarness({ config: { tokens: { refreshGraceSeconds: 0 } } })
  b = createBrowserish(h)
})
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.client.close()
})

const refreshCalls = (): number =>
  b.requests.filter((r) => r.url.endsWith('/token') && r.body.includes('grant_type=refresh_token'))
    .length

describe('options', () => {
  it('refuses plain http off loopback for the issuer and the redirect URI, naming every problem', () => {
    const create =
      (issuer: string, redirectUri: string, clientId = 'spa') =>
      () =>
        createGatehouseClient({
          issuer,
          clientId,
          redirectUri,
          environment: track(b.openTab()).environment,
        })
    expect(create('http://auth.example.com', 'http://app.example.com/cb', '')).toThrow(
      new TypeError(
        'createGatehouseClient: issuer must use https (http only for localhost, 127.0.0.0/8, [::1]); ' +
          'redirectUri must use https (http only for localhost, 127.0.0.0/8, [::1]); clientId is required',
      ),
    )
    expect(create('not a url', SPA_REDIRECT)).toThrow(/issuer must use https/)
    expect(create('ftp://auth.example.com', SPA_REDIRECT)).toThrow(/issuer must use https/)
  })

  it('accepts http on loopback (local development)', () => {
    const client = createGatehouseClient({
      issuer: 'http://127.0.0.1:8788',
      clientId: 'spa',
      redirectUri: 'http://localhost:5173/callback',
      environment: track(b.openTab()).environment,
    })
    client.close()
  })
})

describe('sign-in', () => {
  it('sends an authorization request with PKCE S256, state and nonce', async () => {
    const tab = track(b.openTab())
    await tab.client.login({ returnTo: '/orders?page=2' })
    const url = new URL(tab.navigations[0]!)
    expect(`${url.origin}${url.pathname}`).toBe(`${ISSUER}/authorize`)
    const q = url.searchParams
    expect(q.get('client_id')).toBe('spa')
    expect(q.get('redirect_uri')).toBe(SPA_REDIRECT)
    expect(q.get('response_type')).toBe('code')
    expect(q.get('code_challenge_method')).toBe('S256')
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    expect(q.has('prompt')).toBe(false)
  })

  it('completes the code flow, shows the user from UserInfo and returns to the saved path', async () => {
    const tab = track(b.openTab())
    await tab.client.login({ returnTo: '/orders?page=2' })
    const callback = await followLogin(b, tab)
    const state = await tab.client.start(callback)
    expect(state.status).toBe('signed-in')
    if (state.status !== 'signed-in') return
    expect(state.user).toMatchObject({ sub: USER.sub, name: 'Alice', email: 'alice@example.test' })
    expect(tab.replaced).toEqual(['/orders?page=2'])
    expect(await tab.client.getAccessToken()).toMatch(/^ey/)
  })

  it('keeps tokens in memory only: sessionStorage holds a flag, never a token', async () => {
    const tab = track(await signedInTab(b))
    const token = (await tab.client.getAccessToken())!
    const stored = tab.storage.values().join('\n')
    expect(stored).not.toContain(token)
    expect(stored).not.toMatch(/ey[A-Za-z0-9_-]{10,}\./) // no JWT of any kind
    expect(tab.storage.values()).toEqual(['1'])
  })

  it('refuses a callback whose state is not the one this tab sent, without redeeming the code', async () => {
    const tab = track(b.openTab())
    await tab.client.login()
    const callback = new URL(await followLogin(b, tab))
    callback.searchParams.set('state', 'attacker-state-0123456789')
    const state = await tab.client.start(callback.href)
    expect(state.status).toBe('signed-out')
    expect(state.status === 'signed-out' && state.error?.code).toBe('state_mismatch')
    expect(b.requests.some((r) => r.url.endsWith('/token'))).toBe(false)
    expect(tab.replaced).toEqual(['/'])
  })

  it('refuses a callback from another issuer (RFC 9207 mix-up defence)', async () => {
    const tab = track(b.openTab())
    await tab.client.login()
    const callback = new URL(await followLogin(b, tab))
    callback.searchParams.set('iss', 'https://evil.test')
    const state = await tab.client.start(callback.href)
    expect(state.status === 'signed-out' && state.error?.code).toBe('issuer_mismatch')
    expect(b.requests.some((r) => r.url.endsWith('/token'))).toBe(false)
  })

  it('ignores a callback it did not ask for (login CSRF): no token request, signed out', async () => {
    const attacker = track(b.openTab())
    await attacker.client.login()
    const callback = await followLogin(b, attacker) // the attacker's own code
    const victim = track(b.openTab())
    const state = await victim.client.start(callback)
    expect(state).toEqual({ status: 'signed-out' })
    expect(b.requests.some((r) => r.url.endsWith('/token'))).toBe(false)
  })

  it('reports an authorization error with its OAuth code', async () => {
    const tab = track(b.openTab())
    await tab.client.login()
    const callback = new URL(await followLogin(b, tab))
    const state = callback.searchParams.get('state')!
    const denied = `${SPA_REDIRECT}?error=access_denied&state=${state}&iss=${encodeURIComponent(ISSUER)}`
    const result = await tab.client.start(denied)
    expect(result.status === 'signed-out' && result.error).toBeInstanceOf(GatehouseClientError)
    expect(result.status === 'signed-out' && result.error?.oauthError).toBe('access_denied')
  })
})

describe('reload', () => {
  it('with no other tab, re-authorizes silently with prompt=none on the session cookie', async () => {
    const tab = track(await signedInTab(b))
    tab.client.close() // a reload unloads the page and its memory
    const reloaded = track(tab.reload())
    expect(await reloaded.client.start('https://app.test/orders')).toEqual({
      status: 'redirecting',
    })
    const url = new URL(reloaded.navigations[0]!)
    expect(url.searchParams.get('prompt')).toBe('none')
    const callback = await followLogin(b, reloaded)
    expect(callback).toContain('code=')
    const state = await reloaded.client.start(callback)
    expect(state.status).toBe('signed-in')
    expect(reloaded.replaced).toEqual(['/orders'])
  })

  it('is signed out, without an error, when the silent attempt finds no session', async () => {
    const tab = track(await signedInTab(b))
    tab.client.close()
    b.browser.cookies.clear() // the issuer session is gone
    const reloaded = track(tab.reload())
    await reloaded.client.start('https://app.test/')
    const callback = await followLogin(b, reloaded)
    expect(new URL(callback).searchParams.get('error')).toBe('login_required')
    expect(await reloaded.client.start(callback)).toEqual({ status: 'signed-out' })
    // The "was signed in" flag is gone, so the next load does not bounce again.
    const again = track(reloaded.reload())
    expect(await again.client.start('https://app.test/')).toEqual({ status: 'signed-out' })
    expect(again.navigations).toEqual([])
  })

  it('adopts the tokens of another open tab instead of redirecting', async () => {
    const first = track(await signedInTab(b))
    const second = track(b.openTab())
    const state = await second.client.start('https://app.test/')
    expect(state.status).toBe('signed-in')
    expect(second.navigations).toEqual([])
    expect(await second.client.getAccessToken()).toBe(await first.client.getAccessToken())
  })
})

describe('refresh', () => {
  it('is scheduled before expiry and rotates the refresh token', async () => {
    const tab = track(await signedInTab(b))
    const before = await tab.client.getAccessToken()
    const timer = tab.timers.filter((t) => !t.cleared).at(-1)!
    // 600 s access tokens (the harness default), refreshed 60 s early.
    expect(timer.ms).toBeGreaterThan(530_000)
    expect(timer.ms).toBeLessThanOrEqual(540_000)
    let updates = 0
    tab.client.subscribe(() => updates++)
    timer.callback()
    await until(() => updates > 0, 'the refreshed set')
    expect(refreshCalls()).toBe(1)
    expect(tab.client.state.status).toBe('signed-in')
    expect(await tab.client.getAccessToken()).not.toBe(before)
    // The next refresh is scheduled from the new expiry.
    expect(tab.timers.filter((t) => !t.cleared && t.ms > 500_000)).toHaveLength(1)
  })

  it('two tabs refreshing at the same moment spend the refresh token once and both stay signed in', async () => {
    const first = track(await signedInTab(b))
    const second = track(b.openTab())
    await second.client.start('https://app.test/')
    const [a, c] = await Promise.all([first.client.refresh(), second.client.refresh()])
    expect([a, c]).toEqual([true, true])
    expect(refreshCalls()).toBe(1)
    const token = await first.client.getAccessToken()
    expect(await second.client.getAccessToken()).toBe(token)
    // The family is intact: with grace 0 a double spend would have revoked it.
    expect(await second.client.refresh()).toBe(true)
    expect(first.client.state.status).toBe('signed-in')
  })

  it('does not spend a rotated token even when the winning tab’s announcement is lost', async () => {
    const first = track(await signedInTab(b))
    const second = track(b.openTab())
    await second.client.start('https://app.test/')
    // Drop the unsolicited announcement after the refresh; answers to `hello` still arrive.
    let dropped = 0
    b.bus.setFilter((message) => {
      const m = message as { type?: string }
      if (m.type === 'tokens' && dropped === 0 && refreshCalls() === 1) return (dropped++, false)
      return true
    })
    await first.client.refresh()
    expect(dropped).toBe(1)
    expect(await second.client.refresh()).toBe(true)
    expect(refreshCalls()).toBe(1)
    expect(await second.client.getAccessToken()).toBe(await first.client.getAccessToken())
  })

  it('signs every tab out when the issuer refuses the refresh token', async () => {
    const first = track(await signedInTab(b))
    const second = track(b.openTab())
    await second.client.start('https://app.test/')
    // End the issuer session behind the tabs' back (its refresh families are revoked with it).
    expect(b.browser.cookies.size).toBeGreaterThan(0)
    expect((await b.browser.logout()).status).toBe(200)
    expect(await first.client.refresh()).toBe(false)
    expect(first.client.state).toMatchObject({ status: 'signed-out' })
    await until(() => second.client.state.status === 'signed-out', 'the other tab to sign out')
  })
})

describe('fetch', () => {
  it('sends the bearer token and refreshes once on invalid_token', async () => {
    const tab = track(await signedInTab(b, { dpop: false }))
    const first = await tab.client.getAccessToken()
    const seen: string[] = []
    b.api = async (request) => {
      const auth = request.headers.get('authorization') ?? ''
      seen.push(auth)
      return auth === `Bearer ${first}`
        ? new Response(null, {
            status: 401,
            headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
          })
        : Response.json({ ok: true })
    }
    const response = await tab.client.fetch('https://api.test/orders')
    expect(response.status).toBe(200)
    expect(seen).toHaveLength(2)
    expect(seen[0]).toBe(`Bearer ${first}`)
    expect(seen[1]).toBe(`Bearer ${await tab.client.getAccessToken()}`)
    expect(refreshCalls()).toBe(1)
  })

  it('refuses to send a request when signed out', async () => {
    const tab = track(b.openTab())
    await tab.client.start('https://app.test/')
    await expect(tab.client.fetch('https://api.test/orders')).rejects.toMatchObject({
      code: 'login_required',
    })
  })
})

describe('logout', () => {
  it('revokes the refresh token, signs out the other tabs and ends the issuer session', async () => {
    const first = track(await signedInTab(b))
    const second = track(b.openTab())
    await second.client.start('https://app.test/')
    const accessToken = (await first.client.getAccessToken())!
    await first.client.logout()
    expect(first.client.state).toEqual({ status: 'redirecting' })
    await until(() => second.client.state.status === 'signed-out', 'the other tab to sign out')
    expect(b.requests.some((r) => r.url.endsWith('/revoke'))).toBe(true)
    const url = new URL(first.navigations.at(-1)!)
    expect(`${url.origin}${url.pathname}`).toBe(`${ISSUER}/logout`)
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(SPA_LOGOUT)
    expect(url.searchParams.get('id_token_hint')).toMatch(/^ey/)
    const ended = await b.browser.request(url.href)
    expect(ended.headers.get('location')).toBe(SPA_LOGOUT)
    // The access token of the ended session is refused by the issuer (revoked with the family).
    const userinfo = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${accessToken}` },
    })
    expect(userinfo.status).toBe(401)
    expect(first.storage.values()).toEqual([])
  })
})

describe('one client id at several issuers (tenants)', () => {
  // A second issuer (another tenant) with the same client id: its discovery is all the client needs
  // to send the browser there.
  const OTHER = 'https://auth.test/t/globex'
  const otherIssuer = (request: Request): Response | undefined =>
    request.url === `${OTHER}/.well-known/openid-configuration`
      ? Response.json({
          issuer: OTHER,
          authorization_endpoint: `${OTHER}/authorize`,
          token_endpoint: `${OTHER}/token`,
          jwks_uri: `${OTHER}/.well-known/jwks.json`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          authorization_response_iss_parameter_supported: true,
        })
      : undefined
  const clientOf = (issuer: string) => (key: string) =>
    key.startsWith('gatehouse:') && key.includes(issuer)

  it('a tenant sign-in in flight survives a sign-in at another tenant with the same client id in the same tab', async () => {
    b.intercept = otherIssuer
    const tab = track(b.openTab())
    const other = track(b.openTab(tab.storage, { issuer: OTHER }))
    await tab.client.login({ returnTo: '/acme' })
    await other.client.login({ returnTo: '/globex' }) // same sessionStorage, same client id
    expect(
      new URL(other.navigations.at(-1)!).origin + new URL(other.navigations.at(-1)!).pathname,
    ).toBe(`${OTHER}/authorize`)
    const state = await tab.client.start(await followLogin(b, tab))
    expect(state.status).toBe('signed-in')
    expect(tab.replaced).toEqual(['/acme'])
    // The other tenant's request is still pending, under its own key.
    expect(tab.storage.keys().filter(clientOf(OTHER))).toHaveLength(1)
  })

  it('a tab of another tenant with the same client id never adopts this tenant’s tokens', async () => {
    b.intercept = otherIssuer
    const signedIn = track(await signedInTab(b))
    const other = track(b.openTab(undefined, { issuer: OTHER }))
    const state = await other.client.start('https://app.test/')
    expect(state).toEqual({ status: 'signed-out' })
    expect(await other.client.getAccessToken()).toBeUndefined()
    // And this tenant's own new tab still does.
    const same = track(b.openTab())
    expect((await same.client.start('https://app.test/')).status).toBe('signed-in')
    expect(await same.client.getAccessToken()).toBe(await signedIn.client.getAccessToken())
  })

  it('reads per-tab state stored by client id alone (before tenants) and moves it under the issuer', async () => {
    const tab = track(b.openTab())
    await tab.client.login({ returnTo: '/orders' })
    // What an earlier version left in sessionStorage: the same record under `gatehouse:{clientId}:…`.
    for (const key of tab.storage.keys().filter(clientOf(ISSUER))) {
      const legacy = `gatehouse:spa:${key.split(':').at(-1)}`
      tab.storage.setItem(legacy, tab.storage.getItem(key)!)
      tab.storage.removeItem(key)
    }
    expect(tab.storage.keys()).toEqual(['gatehouse:spa:pending'])
    expect((await tab.client.start(await followLogin(b, tab))).status).toBe('signed-in')
    expect(tab.replaced).toEqual(['/orders'])
    expect(tab.storage.keys()).not.toContain('gatehouse:spa:pending')
    // The "was signed in" flag of an earlier version still restores the session after a reload.
    tab.client.close()
    for (const key of tab.storage.keys()) tab.storage.removeItem(key)
    tab.storage.setItem('gatehouse:spa:signed-in', '1')
    const reloaded = track(tab.reload())
    expect(await reloaded.client.start('https://app.test/')).toEqual({ status: 'redirecting' })
    expect(new URL(reloaded.navigations[0]!).searchParams.get('prompt')).toBe('none')
    expect(reloaded.storage.keys()).not.toContain('gatehouse:spa:signed-in')
  })
})
