/**
 * The hosted login's POST is refused with a clear 403 when the browser says it comes from another
 * site (`Origin` of another origin, or `Sec-Fetch-Site: cross-site`), as defence in depth beside the
 * CSRF token and the SameSite cookie (issue 21). Same-origin posts, and posts without those headers
 * (non-browser clients, old browsers), still sign in.
 */
import * as oauth from 'oauth4webapi'
import { beforeEach, describe, expect, it } from 'vitest'
import { Browser, ISSUER, SPA_REDIRECT, USER, createHarness, type Harness } from './support.ts'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})

/** A fresh login page for the SPA, in a fresh browser. */
async function loginPage(): Promise<{ browser: Browser; html: string }> {
  const browser = new Browser(h.fetch)
  const query = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 's',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: 'S256',
  })
  const response = await browser.request(`${ISSUER}/authorize?${query}`)
  expect(response.status).toBe(200)
  return { browser, html: await response.text() }
}

const credentials = { username: USER.username, password: USER.password }

describe('POST /login from another site', () => {
  for (const [name, headers] of [
    ['Origin of another site', { origin: 'https://evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['both', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
    ['a look-alike origin', { origin: 'https://auth.test.evil.example' }],
    ['our origin over http', { origin: 'http://auth.test' }],
  ] as const) {
    it(`is refused with 403: ${name}`, async () => {
      const { browser, html } = await loginPage()
      const response = await browser.submitForm(html, credentials, headers)
      expect(response.status).toBe(403)
      expect(response.headers.get('location')).toBeNull()
      expect(response.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await response.text()).toMatch(/another site/i)
      expect(browser.cookies.has('__Host-gatehouse_session')).toBe(false)
    })
  }

  for (const [name, headers] of [
    ['same origin', { origin: ISSUER, 'sec-fetch-site': 'same-origin' }],
    // Our pages send `Referrer-Policy: no-referrer`, so browsers send `Origin: null` on their POSTs.
    ['Origin: null from our own page', { origin: 'null', 'sec-fetch-site': 'same-origin' }],
    ['no such headers (non-browser client, old browser)', {}],
    ['user-initiated (Sec-Fetch-Site: none)', { 'sec-fetch-site': 'none' }],
  ] as const) {
    it(`still signs in: ${name}`, async () => {
      const { browser, html } = await loginPage()
      const response = await browser.submitForm(html, credentials, headers)
      expect(response.status).toBe(303)
      expect(new URL(response.headers.get('location')!).searchParams.has('code')).toBe(true)
    })
  }
})
