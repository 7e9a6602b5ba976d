/**
 * Issue 21's attacks, run from outside against the stack `npm run dev` starts: every request goes
 * through the edge Worker under `wrangler dev` (workerd), which forwards /authorize, /login, /token and
 * /logout to the origin process on real Redis. First with a scripted browser (a cookie jar over
 * fetch, headers as an attacker's page would make a browser send them), then in Chromium from a page
 * on another site (`localhost` is a different site from `127.0.0.1`), so the Fetch Metadata and
 * SameSite behaviour is the browser's own.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Browser } from '../unit/oauth/support.ts'
import { signIn as signInSpa } from './browser.ts'
import { useE2eStack } from './e2e-stack.ts'

// No grace window: a refresh token spent by a refused request would fail its retry at once.
const e2e = useE2eStack('attacks', { tokens: { refreshGraceSeconds: 0 } })
let evil: { server: Server; url: string; pages: Map<string, string> }

beforeAll(async () => {
  const pages = new Map<string, string>()
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(pages.get(req.url ?? '/') ?? '<!doctype html><p>nothing here</p>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  // Another site: `localhost` and `127.0.0.1` are different hosts, so cross-site to the browser.
  evil = { server, url: `http://localhost:${(server.address() as AddressInfo).port}`, pages }
})

afterAll(async () => {
  await new Promise<void>((resolve) => (evil ? evil.server.close(() => resolve()) : resolve()))
})

/** A browser whose every request to the issuer (the origin's URL) goes through the edge instead. */
const viaEdge = () =>
  new Browser((input, init) => {
    const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    return fetch(raw.replace(e2e.stack.urls.origin, e2e.stack.urls.edge), init as RequestInit)
  })

const authorizeQuery = (challenge: string, extra: Record<string, string> = {}) =>
  new URLSearchParams({
    client_id: e2e.stack.demo.clientId,
    redirect_uri: `${e2e.stack.urls.spa}/callback`,
    response_type: 'code',
    scope: 'openid profile',
    state: 's',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  })

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

const token = (body: Record<string, string>) =>
  fetch(`${e2e.stack.urls.edge}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: e2e.stack.demo.clientId, ...body }),
  })

/** The demo SPA's code + PKCE sign-in, entirely through the edge. */
async function signIn(browser = viaEdge()) {
  const { verifier, challenge } = pkce()
  let response = await browser.request(
    `${e2e.stack.urls.edge}/authorize?${authorizeQuery(challenge)}`,
  )
  if (response.status === 200)
    response = await browser.submitLogin(
      await response.text(),
      e2e.stack.demo.username,
      e2e.stack.demo.password,
    )
  const code = new URL(response.headers.get('location') ?? 'x:').searchParams.get('code')
  if (!code) throw new Error(`no code: ${response.status}`)
  const exchanged = await token({
    grant_type: 'authorization_code',
    code,
    redirect_uri: `${e2e.stack.urls.spa}/callback`,
    code_verifier: verifier,
  })
  expect(exchanged.status).toBe(200)
  const tokens = (await exchanged.json()) as {
    access_token: string
    id_token: string
    refresh_token: string
  }
  return { browser, tokens }
}

/** `prompt=none` through the edge: true while the browser's issuer session lives. */
async function sessionAlive(browser: Browser): Promise<boolean> {
  const query = authorizeQuery(pkce().challenge, { prompt: 'none' })
  const response = await browser.request(`${e2e.stack.urls.edge}/authorize?${query}`)
  return new URL(response.headers.get('location') ?? 'x:').searchParams.has('code')
}

const logoutVia = (browser: Browser, params: Record<string, string>, headers = {}) =>
  browser.request(`${e2e.stack.urls.edge}/logout?${new URLSearchParams(params)}`, { headers })

const CROSS_SITE = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }

describe('through the edge (wrangler dev), scripted', () => {
  it('a cross-site GET /logout with the cookie asks first and ends nothing', async () => {
    const { browser, tokens } = await signIn()
    const response = await logoutVia(browser, {}, CROSS_SITE)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('name="confirmation"')
    expect(await sessionAlive(browser)).toBe(true)
    expect(
      (await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).status,
    ).toBe(200)
  })

  it('an access token as id_token_hint is refused; a hint of another session ends nothing', async () => {
    const victim = await signIn()
    const other = await signIn()
    const stranger = await logoutVia(viaEdge(), { id_token_hint: victim.tokens.access_token })
    expect(stranger.status).toBe(400)
    const foreignHint = await logoutVia(
      victim.browser,
      { id_token_hint: other.tokens.id_token },
      CROSS_SITE,
    )
    expect(foreignHint.status).toBe(200)
    expect(await foreignHint.text()).toContain('name="confirmation"')
    expect(await sessionAlive(victim.browser)).toBe(true)
    expect(await sessionAlive(other.browser)).toBe(true)
  })

  it('client_id alone gets no redirect before the user confirms; its own hint signs out at once', async () => {
    const { browser, tokens } = await signIn()
    const params = {
      client_id: e2e.stack.demo.clientId,
      post_logout_redirect_uri: `${e2e.stack.urls.spa}/`,
      state: 'x',
    }
    const asked = await logoutVia(browser, params, CROSS_SITE)
    expect(asked.status).toBe(200)
    expect(asked.headers.get('location')).toBeNull()
    const ended = await logoutVia(browser, { ...params, id_token_hint: tokens.id_token })
    expect(ended.status).toBe(303)
    expect(ended.headers.get('location')).toBe(`${e2e.stack.urls.spa}/?state=x`)
    expect(await sessionAlive(browser)).toBe(false)
  })

  it('a refused refresh (invalid_scope, invalid_target) leaves the refresh token usable', async () => {
    const { tokens } = await signIn()
    const refresh = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }
    const scope = await token({ ...refresh, scope: 'profile admin' })
    expect(scope.status).toBe(400)
    expect(await scope.json()).toMatchObject({ error: 'invalid_scope' })
    const target = await token({ ...refresh, resource: 'https://elsewhere.example' })
    expect(target.status).toBe(400)
    expect(await target.json()).toMatchObject({ error: 'invalid_target' })
    expect((await token(refresh)).status).toBe(200)
  })

  it('a cross-site login POST is refused with 403; a same-origin one signs in', async () => {
    for (const [headers, status] of [
      [{ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, 403],
      [{}, 303],
    ] as const) {
      const browser = viaEdge()
      const page = await browser.request(
        `${e2e.stack.urls.edge}/authorize?${authorizeQuery(pkce().challenge)}`,
      )
      const response = await browser.submitForm(
        await page.text(),
        { username: e2e.stack.demo.username, password: e2e.stack.demo.password },
        headers,
      )
      expect(response.status).toBe(status)
    }
  })
})

describe('in Chromium, from a page on another site', () => {
  it('cannot sign the user out with a top-level GET, nor post the login form', async () => {
    const page = await e2e.context.newPage()
    await signInSpa(page, e2e.stack.urls.spa, {
      username: e2e.stack.demo.username,
      password: e2e.stack.demo.password,
    })
    // The attacker's page navigates the victim's tab to /logout (a top-level cross-site GET
    // carries the SameSite=Lax session cookie) — through the edge.
    evil.pages.set(
      '/logout',
      `<!doctype html><a id="go" href="${e2e.stack.urls.edge}/logout">win a prize</a>`,
    )
    await page.goto(`${evil.url}/logout`)
    await Promise.all([page.waitForURL(`${e2e.stack.urls.edge}/logout`), page.click('#go')])
    expect(await page.textContent('h1')).toBe('Sign out?')
    // The session is intact: back in the SPA, signing in needs no password.
    await page.goto(`${e2e.stack.urls.spa}/`)
    await page.waitForSelector('#status[data-state="signed-in"], #status[data-state="signed-out"]')
    if ((await page.getAttribute('#status', 'data-state')) === 'signed-out') {
      await page.click('#sign-in')
      await page.waitForSelector('#status[data-state="signed-in"]')
    }
    expect(await page.$('#username')).toBeNull()

    // The attacker's page posts a login form (its own credentials) to the issuer, through the edge.
    evil.pages.set(
      '/login',
      `<!doctype html><form method="post" action="${e2e.stack.urls.edge}/login">
<input name="csrf_token" value="${'A'.repeat(43)}"><input name="username" value="mallory">
<input name="password" value="x"><button id="send">send</button></form>`,
    )
    await page.goto(`${evil.url}/login`)
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${e2e.stack.urls.edge}/login`),
      page.click('#send'),
    ])
    expect(response.status()).toBe(403)
    expect(await page.textContent('body')).toContain('sent from another site')
  })
})
