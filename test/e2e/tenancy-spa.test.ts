/**
 * Tenants end to end in headless Chromium, against the stack `npm run dev` starts
 * (scripts/dev-stack.ts: real redis-server behind the Upstash bridge, the origin process, the edge
 * Worker under `wrangler dev`, the example SPA), which seeds two tenants (scripts/dev-tenants.ts).
 * The SPA's tenant picker signs in to each tenant on its own branded login page; each tenant's token
 * carries its own issuer and audience and goes through the edge's gateway; the tenants' SPA clients
 * share one client id (the default issuer's too), and one tab signs in to each in turn; tenant A's token is
 * refused by a verifier for tenant B's audience (issuer, keys and audience of B, its JWKS served by
 * the edge) while B's own token passes it.
 */
import { decodeJwt } from 'jose'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { DevTenant } from '../../scripts/dev-tenants.ts'
import { createRemoteKeySet } from '../../src/core/jwks.ts'
import { createAccessTokenVerifier } from '../../src/core/verify.ts'
import { callApi } from './browser.ts'
import { useE2eStack } from './e2e-stack.ts'

const e2e = useE2eStack('tenancy')

const tenant = (id: string): DevTenant => {
  const found = e2e.stack.tenants.find((t) => t.id === id)
  if (!found) throw new Error(`the dev stack seeded no tenant ${id}`)
  return found
}

/** Opens the SPA and picks tenant `id` (the page reloads signed in to none). */
async function pick(page: Page, id: string): Promise<void> {
  await page.goto(`${e2e.stack.urls.spa}/`)
  await page.waitForSelector('#status[data-state="signed-out"]')
  await Promise.all([page.waitForEvent('load'), page.selectOption('#tenant', id)])
  await page.waitForSelector('#status[data-state="signed-out"]')
  expect(await page.inputValue('#tenant')).toBe(id)
}

/** Picks the tenant in the SPA, signs in on its hosted page; resolves the access token it got. */
async function signInTo(page: Page, t: DevTenant): Promise<{ token: string; loginTitle: string }> {
  await pick(page, t.id)
  return signIn(page, t)
}

/**
 * Switches the SPA open and signed in in `page` to tenant `id` as its picker does (the picker shows
 * only while signed out): the choice in sessionStorage, then a reload. The tab's state for the
 * other issuer (same client id) must not make it signed in there.
 */
async function switchTo(page: Page, id: string): Promise<void> {
  await Promise.all([
    page.waitForEvent('load'),
    page.evaluate((tenantId) => {
      sessionStorage.setItem('gatehouse-demo:tenant', tenantId)
      location.assign('/')
    }, id),
  ])
  await page.waitForSelector('#status[data-state="signed-out"]')
  expect(await page.inputValue('#tenant')).toBe(id)
}

/** Signs in to the tenant the SPA in `page` has picked, on its hosted page. */
async function signIn(page: Page, t: DevTenant): Promise<{ token: string; loginTitle: string }> {
  await page.click('#sign-in')
  await page.waitForSelector('#username')
  const loginTitle = await page.title()
  await page.fill('#username', t.username)
  await page.fill('#password', t.password)
  const [tokenResponse] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${t.issuer}/token` && r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ])
  await page.waitForSelector('#status[data-state="signed-in"]')
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string }
  return { token, loginTitle }
}

/** How tenant `t`'s API verifies: its issuer, its audience, its keys as the edge publishes them. */
const apiOf = (t: DevTenant) =>
  createAccessTokenVerifier({
    issuer: t.issuer,
    audience: t.audience,
    keys: createRemoteKeySet(`${e2e.stack.urls.edge}/t/${t.id}/.well-known/jwks.json`),
  })

describe('tenants in the example SPA (Chromium, the dev stack)', () => {
  it('npm run dev seeds two tenants beside the default issuer, each with its own discovery at the edge', async () => {
    expect(e2e.stack.tenants.map((t) => t.id)).toEqual(['acme', 'globex'])
    for (const t of e2e.stack.tenants) {
      // The origin serves the tenant (and creates its key set on the first request)…
      const atOrigin = await fetch(`${t.issuer}/.well-known/openid-configuration`)
      expect(((await atOrigin.json()) as Record<string, string>).issuer).toBe(t.issuer)
      // …and the edge describes it from that key set in L2.
      const atEdge = await fetch(
        `${e2e.stack.urls.edge}/t/${t.id}/.well-known/openid-configuration`,
      )
      expect(atEdge.status).toBe(200)
      expect(((await atEdge.json()) as Record<string, string>).issuer).toBe(t.issuer)
    }
  })

  it('signs in to each tenant from the tenant picker: its own login page, user, issuer and audience', async () => {
    for (const id of ['acme', 'globex']) {
      const t = tenant(id)
      const page = await e2e.context.newPage()
      const { token, loginTitle } = await signInTo(page, t)
      expect(loginTitle).toBe(`Sign in to ${t.name}`)
      expect(await page.textContent('#tenant-name')).toBe(t.name)
      expect(await page.textContent('#issuer')).toBe(t.issuer)
      expect(await page.textContent('#user-sub')).toBe(t.sub)
      const claims = decodeJwt(token)
      expect(claims).toMatchObject({ iss: t.issuer, sub: t.sub, client_id: t.clientId })
      expect([claims.aud].flat()).toEqual([t.audience])
      // Through the edge's gateway: the edge picks the tenant from iss and checks its audience.
      const { status, body } = await callApi(page)
      expect(status).toBe('200')
      expect(JSON.parse(body)).toMatchObject({ subject: t.sub, clientId: t.clientId })
      await page.close()
    }
  })

  it('one client id at two tenants: one tab signs in to each in turn, each token its own tenant', async () => {
    const acme = tenant('acme')
    const globex = tenant('globex')
    expect(acme.clientId).toBe(globex.clientId)
    const page = await e2e.context.newPage()
    await pick(page, acme.id)
    const seen: string[] = []
    for (const t of [acme, globex]) {
      if (t !== acme) await switchTo(page, t.id)
      const { token } = await signIn(page, t)
      expect(await page.textContent('#issuer')).toBe(t.issuer)
      expect(await page.textContent('#user-sub')).toBe(t.sub)
      const claims = decodeJwt(token)
      expect(claims).toMatchObject({ iss: t.issuer, sub: t.sub, client_id: acme.clientId })
      const { status, body } = await callApi(page)
      expect(status).toBe('200')
      expect(JSON.parse(body)).toMatchObject({ subject: t.sub, clientId: acme.clientId })
      seen.push(token)
    }
    // Both sign-ins were real and distinct: each tenant's API takes its own token only.
    await expect(apiOf(acme).verify(seen[0] ?? '')).resolves.toBeDefined()
    await expect(apiOf(globex).verify(seen[1] ?? '')).resolves.toBeDefined()
    await expect(apiOf(globex).verify(seen[0] ?? '')).rejects.toMatchObject({ status: 401 })
    await page.close()
  })

  it("tenant A's token is refused at tenant B's audience; B's own token passes there", async () => {
    const acme = tenant('acme')
    const globex = tenant('globex')
    const a = await signInTo(await e2e.context.newPage(), acme)
    const b = await signInTo(await e2e.context.newPage(), globex)
    const globexApi = apiOf(globex)
    await expect(globexApi.verify(b.token)).resolves.toMatchObject({
      claims: { iss: globex.issuer },
    })
    await expect(globexApi.verify(a.token)).rejects.toMatchObject({ status: 401 })
    // Not a broken token: acme's own API accepts it.
    await expect(apiOf(acme).verify(a.token)).resolves.toMatchObject({
      claims: { iss: acme.issuer },
    })
  })

  it("a tenant's user cannot sign in at another tenant, nor at the default issuer", async () => {
    for (const [at, title] of [
      ['globex', 'Sign in to Globex'],
      ['default', undefined],
    ] as const) {
      const page = await e2e.context.newPage()
      await pick(page, at)
      await page.click('#sign-in')
      await page.waitForSelector('#username')
      if (title) expect(await page.title()).toBe(title)
      await page.fill('#username', tenant('acme').username)
      await page.fill('#password', tenant('acme').password)
      await page.click('button[type=submit]')
      const alert = page.locator('[role=alert]')
      await alert.waitFor()
      expect(await alert.textContent()).toBe('Invalid username or password.')
      await page.close()
    }
  })
})
