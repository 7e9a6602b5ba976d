/**
 * /authorize and the hosted login: errors that must not be redirected (HTML 400), errors that go back
 * to the client with state and iss (RFC 6749 §4.1.2.1, RFC 9207), PKCE required, prompt=none, the
 * login form's CSRF binding, uniform credential errors, rate limits, cookies and security headers.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { createHarness, Browser, ISSUER, SPA_REDIRECT, USER, type Harness } from './support.ts'

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
let h: Harness
beforeEach(async () => {
  h = await createHarness()
})

const query = (overrides: Record<string, string | undefined> = {}): string => {
  const base: Record<string, string | undefined> = {
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 'st<ate>',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...overrides,
  }
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(base)) if (v !== undefined) params.append(k, v)
  return params.toString()
}

const authorize = (q: string, browser = new Browser(h.fetch)) =>
  browser.request(`${ISSUER}/authorize?${q}`)

function redirectParams(response: Response): URLSearchParams {
  expect(response.status).toBe(302)
  const location = new URL(response.headers.get('location')!)
  expect(`${location.origin}${location.pathname}`).toBe(SPA_REDIRECT)
  return location.searchParams
}

describe('errors that must not be redirected', () => {
  it.each([
    ['unknown client', query({ client_id: 'nobody' })],
    ['missing client', query({ client_id: undefined })],
    ['unregistered redirect_uri', query({ redirect_uri: 'https://evil.test/cb' })],
    ['redirect_uri differing by a trailing slash', query({ redirect_uri: `${SPA_REDIRECT}/` })],
    ['redirect_uri with extra query', query({ redirect_uri: `${SPA_REDIRECT}?x=1` })],
    ['omitted redirect_uri with two registered', query({ redirect_uri: undefined })],
    ['repeated redirect_uri', `${query()}&redirect_uri=${encodeURIComponent(SPA_REDIRECT)}`],
  ])('%s: HTML 400, no Location', async (_name, q) => {
    const response = await authorize(q)
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
  })
})

describe('errors redirected to the client with state and iss', () => {
  it.each([
    ['missing code_challenge', query({ code_challenge: undefined }), 'invalid_request'],
    ['plain PKCE', query({ code_challenge_method: 'plain' }), 'invalid_request'],
    [
      'missing code_challenge_method',
      query({ code_challenge_method: undefined }),
      'invalid_request',
    ],
    ['malformed challenge', query({ code_challenge: 'abc' }), 'invalid_request'],
    ['implicit flow', query({ response_type: 'token' }), 'unsupported_response_type'],
    ['missing response_type', query({ response_type: undefined }), 'invalid_request'],
    ['scope not allowed', query({ scope: 'openid admin' }), 'invalid_scope'],
    ['repeated parameter', `${query()}&scope=openid`, 'invalid_request'],
    ['request object', query({ request: 'eyJ.x.y' }), 'request_not_supported'],
    ['resource not allowed', query({ resource: 'https://evil.test' }), 'invalid_target'],
    ['fragment response mode', query({ response_mode: 'fragment' }), 'invalid_request'],
  ])('%s → %s', async (_name, q, error) => {
    const params = redirectParams(await authorize(q))
    expect(params.get('error')).toBe(error)
    expect(params.get('state')).toBe('st<ate>')
    expect(params.get('iss')).toBe(ISSUER)
    expect(params.get('code')).toBeNull()
  })

  it('prompt=none without a session → login_required', async () => {
    const params = redirectParams(await authorize(query({ prompt: 'none' })))
    expect(params.get('error')).toBe('login_required')
    expect(params.get('iss')).toBe(ISSUER)
  })

  it('a client without the code grant → unauthorized_client', async () => {
    const q = query({ client_id: 'service', redirect_uri: 'https://service.test/cb' })
    const cc = await createHarness({
      config: {
        clients: [
          {
            id: 'service',
            type: 'confidential',
            secretHash: `sha256:${'A'.repeat(43)}`,
            redirectUris: ['https://service.test/cb'],
            grantTypes: ['client_credentials'],
          },
        ],
      },
    })
    const response = await new Browser(cc.fetch).request(`${ISSUER}/authorize?${q}`)
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe(
      'unauthorized_client',
    )
  })
})

describe('hosted login', () => {
  it('renders an escaped form with strict security headers and a pre-login cookie', async () => {
    const browser = new Browser(h.fetch)
    const response = await authorize(query(), browser)
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('Example &lt;SPA&gt;')
    expect(html).not.toContain('<SPA>')
    expect(html).not.toMatch(/<script/i)
    const csp = response.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("form-action 'self' https://app.test")
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const cookie = response.headers
      .getSetCookie()
      .find((c) => c.startsWith('__Host-gatehouse_login='))!
    expect(cookie).toMatch(/; HttpOnly/)
    expect(cookie).toMatch(/; Secure/)
    expect(cookie).toMatch(/; SameSite=Lax/)
    expect(cookie).toMatch(/; Path=\//)
  })

  it('signs in, sets a hardened session cookie and redirects with code, state, iss', async () => {
    const browser = new Browser(h.fetch)
    const page = await (await authorize(query(), browser)).text()
    const response = await browser.submitLogin(page, USER.username, USER.password)
    expect(response.status).toBe(303)
    const params = new URL(response.headers.get('location')!).searchParams
    expect(params.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(params.get('state')).toBe('st<ate>')
    expect(params.get('iss')).toBe(ISSUER)
    const cookie = response.headers
      .getSetCookie()
      .find((c) => c.startsWith('__Host-gatehouse_session='))!
    expect(cookie).toMatch(
      /^__Host-gatehouse_session=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    )
    // The session satisfies the next request without a form; prompt=login forces one.
    expect((await authorize(query(), browser)).status).toBe(302)
    expect((await authorize(query({ prompt: 'login' }), browser)).status).toBe(200)
  })

  it('the same uniform error for a wrong password and an unknown user', async () => {
    const browser = new Browser(h.fetch)
    const page = await (await authorize(query(), browser)).text()
    const wrong = await browser.submitLogin(page, USER.username, 'wrong password')
    const unknown = await browser.submitLogin(page, 'mallory', 'whatever')
    expect(wrong.status).toBe(400)
    expect(unknown.status).toBe(400)
    const [a, b] = [await wrong.text(), await unknown.text()]
    expect(a).toContain('Invalid username or password.')
    expect(b).toContain('Invalid username or password.')
    expect(a).not.toContain('wrong password')
    expect(browser.cookies.has('__Host-gatehouse_session')).toBe(false)
    // The form stays usable after a failure.
    expect((await browser.submitLogin(a, USER.username, USER.password)).status).toBe(303)
  })

  it('refuses a login POST without the pre-login cookie (CSRF)', async () => {
    const browser = new Browser(h.fetch)
    const page = await (await authorize(query(), browser)).text()
    browser.cookies.clear()
    const response = await browser.submitLogin(page, USER.username, USER.password)
    expect(response.status).toBe(403)
    expect(response.headers.get('location')).toBeNull()
  })

  it("refuses a login POST carrying another browser's CSRF token (login CSRF)", async () => {
    const attacker = new Browser(h.fetch)
    const victim = new Browser(h.fetch)
    const attackerPage = await (await authorize(query(), attacker)).text()
    await authorize(query(), victim) // the victim has a pre-login cookie of their own
    const response = await victim.submitLogin(attackerPage, USER.username, USER.password)
    expect(response.status).toBe(403)
  })

  it('rate-limits per username (10 per 5 min by default) with 429 and the real wait', async () => {
    const browser = new Browser(h.fetch)
    const page = await (await authorize(query(), browser)).text()
    for (let i = 0; i < 10; i++)
      expect((await browser.submitLogin(page, USER.username, 'nope')).status).toBe(400)
    const limited = await browser.submitLogin(page, USER.username, USER.password)
    expect(limited.status).toBe(429)
    // Sliding window: the wait depends on where in the 300 s window the attempts fell, never more
    // than two windows, and waiting exactly that long is enough.
    const wait = Number(limited.headers.get('retry-after'))
    expect(wait).toBeGreaterThanOrEqual(1)
    expect(wait).toBeLessThanOrEqual(600)
    h.advance(wait * 1000)
    expect((await browser.submitLogin(page, USER.username, USER.password)).status).toBe(303)
  })

  it('rate-limits per IP (30 per minute by default)', async () => {
    const browser = new Browser(h.fetch)
    const page = await (await authorize(query(), browser)).text()
    for (let i = 0; i < 30; i++) await browser.submitLogin(page, `user${i}`, 'nope')
    expect((await browser.submitLogin(page, USER.username, USER.password)).status).toBe(429)
  })

  it('uses plain cookie names without Secure on a loopback http issuer', async () => {
    const local = await createHarness({ config: { issuer: 'http://127.0.0.1:8788' } })
    const response = await new Browser(local.fetch).request(
      `http://127.0.0.1:8788/authorize?${query()}`,
    )
    const cookie = response.headers.getSetCookie()[0]!
    expect(cookie).toMatch(/^gatehouse_login=/)
    expect(cookie).not.toMatch(/Secure/)
  })
})
