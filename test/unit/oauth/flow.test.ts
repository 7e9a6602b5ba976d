/**
 * The whole OAuth 2.1 / OIDC flow driven by a real client library (oauth4webapi) from discovery alone:
 * authorization code + PKCE through the hosted login, userinfo, refresh with rotation, introspection,
 * revocation and RP-initiated logout. In-process over the memory store.
 */
import * as oauth from 'oauth4webapi'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  API,
  ISSUER,
  SERVICE_SECRET,
  SPA_LOGOUT,
  USER,
  basic,
  createHarness,
  discover,
  postForm,
  signIn,
  spaClient,
  type Harness,
} from './support.ts'

let h: Harness
let as: oauth.AuthorizationServer
beforeEach(async () => {
  h = await createHarness()
  as = await discover(h)
})

describe('authorization code + PKCE with oauth4webapi', () => {
  it('discovers every endpoint from the issuer alone', () => {
    expect(as.issuer).toBe(ISSUER)
    expect(as.token_endpoint).toBe(`${ISSUER}/token`)
    expect(as.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`)
    expect(as.code_challenge_methods_supported).toEqual(['S256'])
    expect(as.authorization_response_iss_parameter_supported).toBe(true)
    for (const k of [
      'authorization_endpoint',
      'userinfo_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
      'end_session_endpoint',
    ] as const)
      expect(as[k]).toMatch(/^https:\/\/auth\.test\//)
  })

  it('issues an RFC 9068 access token, an ID token and a refresh token', async () => {
    const { tokens, nonce } = await signIn(h, as)
    expect(tokens.token_type.toLowerCase()).toBe('bearer')
    expect(tokens.scope).toBe('openid profile email read')
    const header = decodeProtectedHeader(tokens.access_token)
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256', kid: 'test-es256' })
    const claims = decodeJwt(tokens.access_token)
    expect(claims).toMatchObject({
      iss: ISSUER,
      sub: USER.sub,
      aud: API,
      client_id: 'spa',
      scope: 'openid profile email read',
    })
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(typeof claims['sid']).toBe('string')
    expect(claims.exp! - claims.iat!).toBe(600)
    const id = oauth.getValidatedIdTokenClaims(tokens)!
    expect(id).toMatchObject({ sub: USER.sub, aud: 'spa', nonce, sid: claims['sid'] })
    expect(typeof id.auth_time).toBe('number')
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('verifies the access token against the published JWKS', async () => {
    const { tokens } = await signIn(h, as)
    const request = new Request(`${API}/x`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    const claims = await oauth.validateJwtAccessToken(as, request, API, {
      [oauth.customFetch]: h.fetch,
    })
    expect(claims.sub).toBe(USER.sub)
  })

  it('serves userinfo claims by scope', async () => {
    const { tokens } = await signIn(h, as)
    const response = await oauth.userInfoRequest(as, spaClient, tokens.access_token, {
      [oauth.customFetch]: h.fetch,
    })
    const info = await oauth.processUserInfoResponse(as, spaClient, USER.sub, response)
    expect(info).toEqual({
      sub: USER.sub,
      name: 'Alice',
      email: 'alice@example.test',
      email_verified: true,
    })
  })

  it('reuses the session: a second authorization needs no login', async () => {
    const first = await signIn(h, as)
    const second = await signIn(h, as, { browser: first.browser, scope: 'openid' })
    expect(decodeJwt(second.tokens.access_token)['sid']).toBe(
      decodeJwt(first.tokens.access_token)['sid'],
    )
  })

  it('refreshes with rotation', async () => {
    const { tokens } = await signIn(h, as)
    const response = await oauth.refreshTokenGrantRequest(
      as,
      spaClient,
      oauth.None(),
      tokens.refresh_token!,
      {
        [oauth.customFetch]: h.fetch,
      },
    )
    const refreshed = await oauth.processRefreshTokenResponse(as, spaClient, response)
    expect(refreshed.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)
    expect(decodeJwt(refreshed.access_token).sub).toBe(USER.sub)
  })

  it('introspects for a confidential client, and revokes', async () => {
    const { tokens } = await signIn(h, as)
    const service: oauth.Client = { client_id: 'service' }
    const auth = oauth.ClientSecretBasic(SERVICE_SECRET)
    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(
        as,
        service,
        await oauth.introspectionRequest(as, service, auth, token, {
          [oauth.customFetch]: h.fetch,
        }),
      )
    expect(await introspect(tokens.access_token)).toMatchObject({
      active: true,
      sub: USER.sub,
      client_id: 'spa',
    })

    const revoke = await oauth.revocationRequest(as, spaClient, oauth.None(), tokens.access_token, {
      [oauth.customFetch]: h.fetch,
    })
    await oauth.processRevocationResponse(revoke)
    expect(await introspect(tokens.access_token)).toEqual({ active: false })
    const info = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(info.status).toBe(401)
    expect(info.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="gatehouse", error="invalid_token"/,
    )
  })

  it('revoking a refresh token revokes its family', async () => {
    const { tokens } = await signIn(h, as)
    const revoke = await oauth.revocationRequest(
      as,
      spaClient,
      oauth.None(),
      tokens.refresh_token!,
      {
        [oauth.customFetch]: h.fetch,
      },
    )
    await oauth.processRevocationResponse(revoke)
    const refresh = await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: 'spa',
    })
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' })
    // …and the access token issued with it (RFC 7009 §2.1).
    const info = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(info.status).toBe(401)
  })

  it('logs out: session ended, refresh family revoked, redirect with state', async () => {
    const { tokens, browser } = await signIn(h, as)
    const url = new URL(as.end_session_endpoint!)
    url.search = new URLSearchParams({
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: SPA_LOGOUT,
      state: 'bye',
    }).toString()
    const response = await browser.request(url.href)
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(`${SPA_LOGOUT}?state=bye`)
    expect(browser.cookies.has('__Host-gatehouse_session')).toBe(false)
    const refresh = await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: 'spa',
    })
    expect(refresh.status).toBe(400)
    const info = await h.fetch(`${ISSUER}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(info.status).toBe(401)
    // The next authorization shows the login form again.
    const again = await browser.request(
      `${ISSUER}/authorize?${new URLSearchParams({ client_id: 'spa', redirect_uri: 'https://app.test/callback', response_type: 'code', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
    )
    expect(again.status).toBe(200)
    expect(await again.text()).toContain('name="password"')
  })

  it('client_credentials for a confidential client', async () => {
    const service: oauth.Client = { client_id: 'service' }
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      service,
      oauth.ClientSecretPost(SERVICE_SECRET),
      { scope: 'read write', resource: 'https://other-api.test' },
      {
        [oauth.customFetch]: h.fetch,
      },
    )
    const tokens = await oauth.processClientCredentialsResponse(as, service, response)
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: 'service',
      client_id: 'service',
      scope: 'read write',
      aud: 'https://other-api.test',
    })
    expect(tokens.refresh_token).toBeUndefined()
    expect(basic('a', 'b')).toMatch(/^Basic /)
  })
})
