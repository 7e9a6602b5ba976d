/**
 * The SPA login flow end to end, in headless Chromium, against the stack `npm run dev` starts
 * (scripts/dev-stack.ts): real redis-server behind the Upstash bridge, the origin as a child process,
 * the edge Worker under `wrangler dev` (about 1.5 s to start here, so the real Worker is used rather
 * than the app on Node), the demo API behind the edge's gateway, and the example SPA.
 *
 * The config sets `refreshGraceSeconds: 0`, so if two tabs ever spent the same refresh token the
 * issuer would revoke the family (RFC 9700 §4.14.2) and the tabs would be signed out.
 */
import { describe, expect, it } from 'vitest'
import { waitUntilRevoked } from '../support/revocation-wait.ts'
import { callApi, expiresAt, signIn } from './browser.ts'
import { useE2eStack } from './e2e-stack.ts'

const e2e = useE2eStack('spa', { tokens: { refreshGraceSeconds: 0 } })

const demo = () => ({ username: e2e.stack.demo.username, password: e2e.stack.demo.password })

describe('example SPA in Chromium', () => {
  it('signs in on the hosted page, lands back in the SPA and calls the API through the edge', async () => {
    const page = await e2e.context.newPage()
    await signIn(page, e2e.stack.urls.spa, demo())
    expect(new URL(page.url()).origin).toBe(e2e.stack.urls.spa)
    expect(page.url()).not.toContain('code=') // the callback parameters were removed
    expect(await page.textContent('#user-name')).toBe('Dana Demo')
    expect(await page.textContent('#user-email')).toBe('demo@example.test')

    const edgeRequests: string[] = []
    page.on('request', (r) => {
      if (r.url().startsWith(e2e.stack.urls.api)) edgeRequests.push(`${r.method()} ${r.url()}`)
    })
    const { status, body } = await callApi(page)
    expect(status).toBe('200')
    expect(JSON.parse(body)).toMatchObject({
      subject: 'demo-user',
      clientId: 'demo-spa',
      path: '/hello',
    })
    // Cross-origin with a bearer token: the browser sent a CORS preflight, then the GET.
    expect(edgeRequests).toContain(`GET ${e2e.stack.urls.api}/hello`)
  })

  it('shows a route the edge’s Cedar policy allows and one it denies (403 with a request id)', async () => {
    const page = await e2e.context.newPage()
    await signIn(page, e2e.stack.urls.spa, demo())
    const allowed = await callApi(page, '#read-document')
    expect(allowed.status).toBe('200')
    expect(JSON.parse(allowed.body)).toMatchObject({ path: '/documents/welcome' })
    const denied = await callApi(page, '#admin-report')
    expect(denied.status).toBe('403')
    expect(JSON.parse(denied.body)).toMatchObject({
      error: 'access_denied',
      request_id: expect.any(String),
    })
    expect(
      e2e.logs.some((l) => l.includes('"msg":"policy decision"') && l.includes('"deny"')),
    ).toBe(true)
  })

  it('shows an error on the hosted page for a wrong password', async () => {
    const page = await e2e.context.newPage()
    await page.goto(`${e2e.stack.urls.spa}/`)
    await page.click('#sign-in')
    await page.fill('#username', e2e.stack.demo.username)
    await page.fill('#password', 'not-the-password')
    await page.click('button[type=submit]')
    const alert = page.locator('[role=alert]')
    await alert.waitFor()
    expect(await alert.textContent()).toBe('Invalid username or password.')
    expect(new URL(page.url()).origin).toBe(e2e.stack.urls.origin)
    // The form is still usable: the right password signs in.
    await page.fill('#password', e2e.stack.demo.password)
    await page.click('button[type=submit]')
    await page.waitForSelector('#status[data-state="signed-in"]')
  })

  it('stays signed in across a token refresh and a reload', async () => {
    const page = await e2e.context.newPage()
    await signIn(page, e2e.stack.urls.spa, demo())
    const first = await expiresAt(page)
    await page.click('#refresh')
    await page.waitForFunction(
      (before) => document.getElementById('expires')?.dataset.expiresAt !== before,
      first,
    )
    const authorizeRequests: string[] = []
    page.on('request', (r) => {
      if (r.url().startsWith(`${e2e.stack.urls.origin}/authorize`)) authorizeRequests.push(r.url())
    })
    await page.reload()
    await page.waitForSelector('#status[data-state="signed-in"]')
    // Tokens were in memory only: the reload re-authorized silently on the session cookie.
    expect(authorizeRequests).toHaveLength(1)
    expect(new URL(authorizeRequests[0]!).searchParams.get('prompt')).toBe('none')
    expect(new URL(page.url()).pathname).toBe('/')
    expect((await callApi(page)).status).toBe('200')
  })

  it('two tabs refreshing at the same moment both stay signed in', async () => {
    const one = await e2e.context.newPage()
    await signIn(one, e2e.stack.urls.spa, demo())
    const two = await e2e.context.newPage()
    const authorize: string[] = []
    two.on('request', (r) => {
      if (r.url().startsWith(`${e2e.stack.urls.origin}/authorize`)) authorize.push(r.url())
    })
    await two.goto(`${e2e.stack.urls.spa}/`)
    await two.waitForSelector('#status[data-state="signed-in"]')
    expect(authorize).toEqual([]) // the second tab got the tokens from the first, no redirect
    const before = await expiresAt(one)
    expect(await expiresAt(two)).toBe(before)

    const refreshes: string[] = []
    for (const page of [one, two])
      page.on('request', (r) => {
        if (r.url() === `${e2e.stack.urls.origin}/token` && r.postData()?.includes('refresh_token'))
          refreshes.push(r.url())
      })
    // Both tabs press "Refresh tokens" at the same wall-clock instant.
    const at = Date.now() + 300
    const press = (at: number) =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          document.getElementById('refresh')?.click()
          resolve()
        }, at - Date.now()),
      )
    await Promise.all([one.evaluate(press, at), two.evaluate(press, at)])
    for (const page of [one, two])
      await page.waitForFunction((b) => {
        const v = document.getElementById('expires')?.dataset.expiresAt
        return v !== undefined && v !== b
      }, before)
    expect(refreshes).toHaveLength(1) // one tab spent the refresh token, the other adopted the result
    expect(await expiresAt(two)).toBe(await expiresAt(one))
    expect((await callApi(one)).status).toBe('200')
    expect((await callApi(two)).status).toBe('200')
    // The family is intact (a double spend with grace 0 would have revoked it): refresh again.
    const second = await expiresAt(one)
    await two.click('#refresh')
    for (const page of [one, two])
      await page.waitForFunction(
        (b) => document.getElementById('expires')?.dataset.expiresAt !== b,
        second,
      )
    expect(refreshes).toHaveLength(2)
    expect(await one.getAttribute('#status', 'data-state')).toBe('signed-in')
    expect((await callApi(one)).status).toBe('200')
  })

  it('signs out: the hosted session ends and the old access token is refused', async () => {
    const page = await e2e.context.newPage()
    // Bearer tokens here, so the test can present the copied token itself (test/e2e/dpop.test.ts
    // shows that a DPoP-bound one is refused outside the page even before sign-out).
    await page.route('**/config.json', async (route) => {
      const config = (await (await route.fetch()).json()) as Record<string, unknown>
      await route.fulfill({ json: { ...config, dpop: false } })
    })
    await signIn(page, e2e.stack.urls.spa, demo())
    let bearer: string | undefined
    page.on('request', (r) => {
      const auth = r.headers()['authorization']
      if (r.url().startsWith(e2e.stack.urls.api) && auth) bearer = auth
    })
    expect((await callApi(page)).status).toBe('200')
    expect(bearer).toMatch(/^Bearer ey/)
    const userinfoBefore = await fetch(`${e2e.stack.urls.origin}/userinfo`, {
      headers: { authorization: bearer! },
    })
    expect(userinfoBefore.status).toBe(200)

    // Sign-out revokes the refresh token (POST /revoke), then navigates to /logout, which ends the
    // session and redirects back to the SPA.
    const [logout] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${e2e.stack.urls.origin}/logout`)),
      page.click('#sign-out'),
    ])
    expect(logout.status()).toBe(303)
    const ackedAtWall = Date.now()
    await page.waitForURL(`${e2e.stack.urls.spa}/`)
    await page.waitForSelector('#status[data-state="signed-out"]')
    // The issuer refuses the old access token at once: /logout revoked its session (`sid`) and
    // /revoke its refresh-token family with the access tokens issued in it.
    const userinfoAfter = await fetch(`${e2e.stack.urls.origin}/userinfo`, {
      headers: { authorization: bearer! },
    })
    expect(userinfoAfter.status).toBe(401)
    expect(userinfoAfter.headers.get('www-authenticate')).toMatch(/invalid_token/)
    // The edge (the real Worker under wrangler dev) refuses it too, at the latest once it has
    // finished a revocation sync that started after the sign-out returned (revocation-wait.ts; the
    // bound, sync interval + timeout, is that mechanism in time and measured in test/chaos).
    await waitUntilRevoked(e2e.stack.urls.edge, [
      { token: bearer!.slice('Bearer '.length), ackedAtWall },
    ])
    expect(
      (await fetch(`${e2e.stack.urls.api}/hello`, { headers: { authorization: bearer! } })).status,
    ).toBe(401)
    // The hosted session is gone: signing in again shows the login form.
    await page.click('#sign-in')
    await page.waitForSelector('#username')
  })
})
