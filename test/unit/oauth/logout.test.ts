/**
 * RP-Initiated Logout 1.0 §2–§3 as an attacker would try it (issue 21): nothing ends without either
 * an ID token hint for the browser's own session or the user's confirmation (a POST carrying a token
 * bound to this browser); the hint must be an ID token of this issuer for a registered client (never
 * an access token), and its `sid` decides which session ends; `post_logout_redirect_uri` is followed
 * only for the client the hint names, or after confirmation for `client_id`.
 */
import * as oauth from 'oauth4webapi'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  Browser,
  ISSUER,
  SPA_LOGOUT,
  SPA_REDIRECT,
  USER,
  createHarness,
  discover,
  postForm,
  signIn,
  type Harness,
} from './support.ts'

let h: Harness
let as: oauth.AuthorizationServer
beforeEach(async () => {
  h = await createHarness()
  as = await discover(h)
})

const SESSION_COOKIE = '__Host-gatehouse_session'
const CROSS_SITE = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }
const logoutUrl = (params: Record<string, string> = {}) =>
  `${ISSUER}/logout?${new URLSearchParams(params)}`

/** True when the browser's issuer session still answers `prompt=none` with a code. */
async function sessionAlive(browser: Browser): Promise<boolean> {
  const query = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: 'openid',
    prompt: 'none',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: 'S256',
  })
  const response = await browser.request(`${ISSUER}/authorize?${query}`)
  const location = new URL(response.headers.get('location') ?? 'x:')
  return location.searchParams.has('code')
}

const refreshStatus = async (refreshToken: string) =>
  (
    await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'spa',
    })
  ).status

describe('RP-initiated logout: only the user or the session’s own ID token ends a session', () => {
  it('a cross-site GET /logout with the cookie and no hint asks first and ends nothing', async () => {
    const { tokens, browser } = await signIn(h, as)
    const response = await browser.request(logoutUrl(), { headers: CROSS_SITE })
    expect(response.status).toBe(200)
    const page = await response.text()
    expect(page).toContain('name="confirmation"')
    expect(page).not.toContain('You are signed out')
    expect(response.headers.getSetCookie().join()).not.toContain(`${SESSION_COOKIE}=;`)
    expect(await sessionAlive(browser)).toBe(true)
    expect(await refreshStatus(tokens.refresh_token!)).toBe(200)
  })

  it('the confirmation (a POST with the page’s token, from this browser) ends the session', async () => {
    const { tokens, browser } = await signIn(h, as)
    const page = await (await browser.request(logoutUrl())).text()
    const confirmed = await browser.submitForm(page)
    expect(confirmed.status).toBe(200)
    expect(await confirmed.text()).toContain('You are signed out')
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false)
    expect(await refreshStatus(tokens.refresh_token!)).toBe(400)
    const again = new Browser(h.fetch)
    for (const [k, v] of browser.cookies) again.cookies.set(k, v)
    expect(await sessionAlive(again)).toBe(false)
  })

  it('refuses a confirmation token replayed from another browser or posted cross-site', async () => {
    const { tokens, browser } = await signIn(h, as)
    const page = await (await browser.request(logoutUrl())).text()
    // The attacker's page cannot read our page; even a token it got from its own visit is bound to
    // the attacker's browser, not the victim's.
    const attacker = new Browser(h.fetch)
    attacker.cookies.set(SESSION_COOKIE, browser.cookies.get(SESSION_COOKIE)!)
    expect((await attacker.submitForm(page)).status).toBe(403)
    const crossSite = await browser.submitForm(
      page,
      {},
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    )
    expect(crossSite.status).toBe(403)
    expect(await sessionAlive(browser)).toBe(true)
    expect(await refreshStatus(tokens.refresh_token!)).toBe(200)
  })

  it('a hint of another session does not end the cookie’s session without asking', async () => {
    const victim = await signIn(h, as)
    const other = await signIn(h, as)
    const response = await victim.browser.request(
      logoutUrl({ id_token_hint: other.tokens.id_token! }),
      { headers: CROSS_SITE },
    )
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('name="confirmation"')
    expect(await sessionAlive(victim.browser)).toBe(true)
    expect(await refreshStatus(victim.tokens.refresh_token!)).toBe(200)
    expect(await refreshStatus(other.tokens.refresh_token!)).toBe(200)
  })

  it('the hint of the browser’s own session ends it at once and redirects', async () => {
    const { tokens, browser } = await signIn(h, as)
    const response = await browser.request(
      logoutUrl({
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: SPA_LOGOUT,
        state: 'bye',
      }),
      { headers: CROSS_SITE },
    )
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(`${SPA_LOGOUT}?state=bye`)
    expect(await refreshStatus(tokens.refresh_token!)).toBe(400)
  })

  it('with no cookie, a valid hint ends the hint’s session only after confirmation', async () => {
    const { tokens } = await signIn(h, as)
    const stranger = new Browser(h.fetch)
    const response = await stranger.request(logoutUrl({ id_token_hint: tokens.id_token! }))
    expect(response.status).toBe(200)
    const page = await response.text()
    expect(page).toContain('name="confirmation"')
    expect(await refreshStatus(tokens.refresh_token!)).toBe(200)
    expect((await stranger.submitForm(page)).status).toBe(200)
    expect(await refreshStatus(tokens.refresh_token!)).toBe(400)
  })
})

describe('id_token_hint is an ID token of this issuer for a registered client', () => {
  it('refuses an access token as id_token_hint, and ends nothing', async () => {
    const { tokens, browser } = await signIn(h, as)
    const stranger = new Browser(h.fetch)
    const response = await stranger.request(logoutUrl({ id_token_hint: tokens.access_token }))
    expect(response.status).toBe(400)
    expect(await response.text()).not.toContain('name="confirmation"')
    const withCookie = await browser.request(logoutUrl({ id_token_hint: tokens.access_token }))
    expect(withCookie.status).toBe(400)
    expect(await sessionAlive(browser)).toBe(true)
    expect(await refreshStatus(tokens.refresh_token!)).toBe(200)
  })

  it('refuses an ID token whose audience is not a registered client', async () => {
    const { browser } = await signIn(h, as)
    const session = [...browser.cookies].find(([k]) => k === SESSION_COOKIE)![1].split('.')[0]!
    const forged = await h.oauth.signer.idToken({
      sub: USER.sub,
      clientId: 'ghost',
      authTime: Math.floor(h.now() / 1000),
      sid: session,
    })
    const response = await browser.request(logoutUrl({ id_token_hint: forged }))
    expect(response.status).toBe(400)
    expect(await sessionAlive(browser)).toBe(true)
  })

  it('refuses a client_id that is not the hint’s audience', async () => {
    const { tokens, browser } = await signIn(h, as)
    const response = await browser.request(
      logoutUrl({ id_token_hint: tokens.id_token!, client_id: 'service' }),
    )
    expect(response.status).toBe(400)
    expect(await sessionAlive(browser)).toBe(true)
  })
})

describe('post_logout_redirect_uri', () => {
  it('is not followed for client_id alone until the user confirms', async () => {
    const { browser } = await signIn(h, as)
    const response = await browser.request(
      logoutUrl({ client_id: 'spa', post_logout_redirect_uri: SPA_LOGOUT, state: 's1' }),
      { headers: CROSS_SITE },
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('location')).toBeNull()
    expect(await sessionAlive(browser)).toBe(true)
    const confirmed = await browser.submitForm(await response.text())
    expect(confirmed.status).toBe(303)
    expect(confirmed.headers.get('location')).toBe(`${SPA_LOGOUT}?state=s1`)
    expect(await sessionAlive(browser)).toBe(false)
  })

  it('refuses an unregistered URI without redirecting or ending anything', async () => {
    const { tokens, browser } = await signIn(h, as)
    const response = await browser.request(
      logoutUrl({
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'https://evil.test/',
      }),
    )
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    expect(await sessionAlive(browser)).toBe(true)
  })
})

describe('discovery', () => {
  it('advertises back-channel logout with sessions', async () => {
    const metadata = (await (
      await h.fetch(`${ISSUER}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>
    expect(metadata['end_session_endpoint']).toBe(`${ISSUER}/logout`)
    expect(metadata['backchannel_logout_supported']).toBe(true)
    expect(metadata['backchannel_logout_session_supported']).toBe(true)
  })
})
