/**
 * /revoke (RFC 7009), /introspect (RFC 7662), /userinfo (OIDC Core §5.3, RFC 6750 §3) and /logout
 * (RP-Initiated Logout) edge cases, plus CORS for browser clients.
 */
import type * as oauth from 'oauth4webapi'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  Browser,
  ISSUER,
  SERVICE_SECRET,
  SPA_LOGOUT,
  basic,
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
const serviceAuth = { authorization: basic('service', SERVICE_SECRET) }

describe('/revoke', () => {
  it('answers 200 for unknown or malformed tokens, and for any hint', async () => {
    for (const token of ['A'.repeat(43), 'garbage', 'a.b.c'])
      expect(
        (await postForm(h, '/revoke', { token, client_id: 'spa', token_type_hint: 'whatever' }))
          .status,
      ).toBe(200)
  })

  it('requires client authentication and the token parameter', async () => {
    expect((await postForm(h, '/revoke', { token: 'x' })).status).toBe(401)
    const missing = await postForm(h, '/revoke', { client_id: 'spa' })
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' })
  })

  it("answers another client's token exactly like an unknown one, and revokes nothing", async () => {
    // RFC 7009 §2.1 allows an error here, but an error would tell the caller the token is live.
    const { tokens } = await signIn(h, as)
    const unknown = await postForm(h, '/revoke', { token: 'A'.repeat(43) }, serviceAuth)
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const response = await postForm(h, '/revoke', { token }, serviceAuth)
      expect(response.status).toBe(unknown.status)
      expect(await response.text()).toBe(await unknown.clone().text())
      expect(response.headers.get('content-type')).toBe(unknown.headers.get('content-type'))
    }
    const info = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(info.status).toBe(200)
    const refreshed = await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: 'spa',
    })
    expect(refreshed.status).toBe(200)
  })
})

describe('/introspect', () => {
  it('is for confidential clients only', async () => {
    const { tokens } = await signIn(h, as)
    const response = await postForm(h, '/introspect', {
      token: tokens.access_token,
      client_id: 'spa',
    })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('says only {"active":false} for inactive tokens', async () => {
    for (const token of ['A'.repeat(43), 'x.y.z', 'nonsense']) {
      const response = await postForm(h, '/introspect', { token }, serviceAuth)
      expect(await response.json()).toEqual({ active: false })
    }
  })

  it('reports an expired access token as inactive', async () => {
    const { tokens } = await signIn(h, as)
    h.advance(601_000)
    expect(
      await (await postForm(h, '/introspect', { token: tokens.access_token }, serviceAuth)).json(),
    ).toEqual({ active: false })
  })

  it('and /revoke take a token from an origin whose clock runs ahead (issue 20)', async () => {
    const minted = await postForm(h, '/token', { grant_type: 'client_credentials' }, serviceAuth)
    const { access_token: token } = (await minted.json()) as { access_token: string }
    const introspect = async () =>
      (
        (await (await postForm(h, '/introspect', { token }, serviceAuth)).json()) as {
          active: boolean
        }
      ).active
    // Here, 5 s behind the origin that minted it: its iat is in our future, and it is ours.
    h.advance(-5000)
    expect(await introspect()).toBe(true)
    expect((await postForm(h, '/revoke', { token }, serviceAuth)).status).toBe(200)
    expect(await introspect()).toBe(false)
    h.advance(5000)
    expect(await introspect()).toBe(false)
  })

  it('refuses an iat further ahead than the fleet clock skew (60 s)', async () => {
    const minted = await postForm(h, '/token', { grant_type: 'client_credentials' }, serviceAuth)
    const { access_token: token } = (await minted.json()) as { access_token: string }
    h.advance(-61_000)
    expect(await (await postForm(h, '/introspect', { token }, serviceAuth)).json()).toEqual({
      active: false,
    })
  })

  it('/revoke of a token expired by this clock still reaches verifiers whose clock is behind', async () => {
    const minted = await postForm(h, '/token', { grant_type: 'client_credentials' }, serviceAuth)
    const { access_token: token, expires_in: ttl } = (await minted.json()) as {
      access_token: string
      expires_in: number
    }
    h.advance((ttl + 10) * 1000)
    expect((await postForm(h, '/revoke', { token }, serviceAuth)).status).toBe(200)
    // Another origin, 20 s behind: the token is still live there, and revoked.
    h.advance(-20_000)
    expect(await (await postForm(h, '/introspect', { token }, serviceAuth)).json()).toEqual({
      active: false,
    })
  })

  it("shows a client its own refresh token, not another client's", async () => {
    const cc = await postForm(h, '/token', { grant_type: 'client_credentials' }, serviceAuth)
    expect(cc.status).toBe(200)
    const { tokens } = await signIn(h, as)
    const response = await postForm(
      h,
      '/introspect',
      { token: tokens.refresh_token!, token_type_hint: 'refresh_token' },
      serviceAuth,
    )
    expect(await response.json()).toEqual({ active: false })
  })
})

describe('/userinfo', () => {
  it('without a token: 401 with a bare Bearer challenge', async () => {
    const response = await h.fetch(`${ISSUER}/userinfo`)
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"')
  })

  it('with a malformed header: 400 invalid_request', async () => {
    const response = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: 'Bearer a b' },
    })
    expect(response.status).toBe(400)
  })

  it('without the openid scope: 403 insufficient_scope', async () => {
    const { tokens } = await signIn(h, as)
    const narrowed = await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: 'spa',
      scope: 'read',
    })
    const { access_token } = (await narrowed.json()) as { access_token: string }
    const response = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${access_token}` },
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
  })

  it('refuses a token signed by someone else', async () => {
    const { signTestToken } = await import('../../fixtures/keys.ts')
    const forged = await signTestToken({ iss: ISSUER, scope: 'openid' }, { alg: 'EdDSA' })
    const response = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${forged}` },
    })
    expect(response.status).toBe(401)
  })
})

describe('/logout', () => {
  const logoutUrl = (params: Record<string, string>) =>
    `${ISSUER}/logout?${new URLSearchParams(params)}`

  it('refuses an unregistered post_logout_redirect_uri without redirecting', async () => {
    const { tokens, browser } = await signIn(h, as)
    const response = await browser.request(
      logoutUrl({
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'https://evil.test/',
      }),
    )
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    // Nothing was ended.
    expect(browser.cookies.has('__Host-gatehouse_session')).toBe(true)
  })

  it('refuses a post_logout_redirect_uri with no client to check it against', async () => {
    const response = await h.fetch(logoutUrl({ post_logout_redirect_uri: SPA_LOGOUT }))
    expect(response.status).toBe(400)
  })

  it('refuses an invalid id_token_hint and a client_id that contradicts it', async () => {
    const { tokens, browser } = await signIn(h, as)
    expect((await browser.request(logoutUrl({ id_token_hint: 'a.b.c' }))).status).toBe(400)
    expect(
      (await browser.request(logoutUrl({ id_token_hint: tokens.id_token!, client_id: 'service' })))
        .status,
    ).toBe(400)
  })

  it('with client_id and no hint: redirects only after confirmation; with nothing: signed-out page', async () => {
    const { browser } = await signIn(h, as)
    const response = await browser.logout({
      client_id: 'spa',
      post_logout_redirect_uri: SPA_LOGOUT,
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(SPA_LOGOUT)
    const page = await new Browser(h.fetch).request(`${ISSUER}/logout`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('You are signed out')
    expect(page.headers.get('x-frame-options')).toBe('DENY')
  })
})

describe('CORS for browser clients', () => {
  it('allows registered origins only, without credentials', async () => {
    const allowed = await h.fetch(`${ISSUER}/token`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.test' },
    })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.test')
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull()
    const other = await h.fetch(`${ISSUER}/token`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.test' },
    })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    const token = await postForm(
      h,
      '/token',
      { grant_type: 'client_credentials' },
      { ...serviceAuth, origin: 'https://app.test' },
    )
    // Per client: the service registered no origin, so a page on app.test may not read its tokens.
    expect(token.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('logging', () => {
  it('logs nothing during a normal flow with errors (no tokens, no secrets)', async () => {
    const { tokens } = await signIn(h, as)
    await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: 'spa',
    })
    await postForm(h, '/token', {
      grant_type: 'client_credentials',
      client_id: 'service',
      client_secret: 'bad',
    })
    expect(h.logs).toEqual([])
  })
})
