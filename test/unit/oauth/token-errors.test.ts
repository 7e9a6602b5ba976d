/**
 * Every RFC 6749 §5.2 error the token endpoint can give, with its status: code-grant failures
 * (redirect URI, PKCE, reuse with cascade revocation, expiry, wrong client), client authentication
 * (401 + WWW-Authenticate after Basic), grant types, scope and resource, and strict form parsing
 * (content type, repeated parameters, size cap, invalid UTF-8). Never a 500, never a secret echoed.
 */
import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  ISSUER,
  SERVICE_SECRET,
  SPA_REDIRECT,
  basic,
  createHarness,
  obtainCode,
  postForm,
  type Harness,
} from './support.ts'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})

const exchange = (code: string, verifier: string | undefined, extra: Record<string, string> = {}) =>
  postForm(h, '/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: SPA_REDIRECT,
    client_id: 'spa',
    ...(verifier === undefined ? {} : { code_verifier: verifier }),
    ...extra,
  })

async function expectError(response: Response, status: number, error: string): Promise<void> {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  expect(response.headers.get('cache-control')).toBe('no-store')
  const body = (await response.json()) as Record<string, unknown>
  expect(body['error']).toBe(error)
  expect(typeof body['error_description']).toBe('string')
}

const userinfoStatus = async (accessToken: string) =>
  (await h.fetch(`${ISSUER}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } }))
    .status

describe('authorization_code grant errors', () => {
  it('works with the right verifier (baseline)', async () => {
    const { code, verifier } = await obtainCode(h)
    expect((await exchange(code, verifier)).status).toBe(200)
  })

  it('rejects a different redirect_uri', async () => {
    const { code, verifier } = await obtainCode(h)
    await expectError(
      await exchange(code, verifier, { redirect_uri: 'https://app.test/other' }),
      400,
      'invalid_grant',
    )
  })

  it('requires redirect_uri when the authorization request had it (RFC 6749 §4.1.3)', async () => {
    const { code, verifier } = await obtainCode(h)
    const response = await postForm(h, '/token', {
      grant_type: 'authorization_code',
      code,
      client_id: 'spa',
      code_verifier: verifier,
    })
    await expectError(response, 400, 'invalid_grant')
  })

  it('rejects a missing code_verifier and a wrong one', async () => {
    const { code, verifier } = await obtainCode(h)
    await expectError(await exchange(code, undefined), 400, 'invalid_request')
    await expectError(await exchange(code, 'x'.repeat(43)), 400, 'invalid_grant')
    await expectError(await exchange(code, 'short'), 400, 'invalid_grant')
    // PKCE failures do not consume the code: the legitimate client can still redeem it.
    expect((await exchange(code, verifier)).status).toBe(200)
  })

  it('rejects a reused code and revokes what the first redemption issued', async () => {
    const { code, verifier } = await obtainCode(h)
    const first = (await (await exchange(code, verifier)).json()) as {
      access_token: string
      refresh_token: string
    }
    expect(await userinfoStatus(first.access_token)).toBe(200)
    await expectError(await exchange(code, verifier), 400, 'invalid_grant')
    expect(await userinfoStatus(first.access_token)).toBe(401)
    const refresh = await postForm(h, '/token', {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      client_id: 'spa',
    })
    await expectError(refresh, 400, 'invalid_grant')
  })

  it('two concurrent redemptions leave no usable tokens behind', async () => {
    const { code, verifier } = await obtainCode(h)
    const responses = await Promise.all([exchange(code, verifier), exchange(code, verifier)])
    const ok = responses.filter((r) => r.status === 200)
    expect(ok.length).toBeLessThanOrEqual(1)
    for (const r of responses.filter((x) => x.status !== 200))
      await expectError(r, 400, 'invalid_grant')
    for (const r of ok) {
      const body = (await r.json()) as { access_token: string; refresh_token: string }
      expect(await userinfoStatus(body.access_token)).toBe(401)
      const refresh = await postForm(h, '/token', {
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        client_id: 'spa',
      })
      expect(refresh.status).toBe(400)
    }
  })

  it('rejects a code whose session was logged out before redemption', async () => {
    const { code, verifier, browser } = await obtainCode(h)
    expect((await browser.logout()).status).toBe(200)
    await expectError(await exchange(code, verifier), 400, 'invalid_grant')
  })

  it('rejects an expired code (60 s)', async () => {
    const { code, verifier } = await obtainCode(h)
    h.advance(60_001)
    await expectError(await exchange(code, verifier), 400, 'invalid_grant')
  })

  it('accepts a code at 59 s', async () => {
    const { code, verifier } = await obtainCode(h)
    h.advance(59_000)
    expect((await exchange(code, verifier)).status).toBe(200)
  })

  it('rejects a code issued to another client', async () => {
    const { code, verifier } = await obtainCode(h)
    const response = await postForm(
      h,
      '/token',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: SPA_REDIRECT,
        code_verifier: verifier,
      },
      { authorization: basic('service', SERVICE_SECRET) },
    )
    await expectError(response, 400, 'invalid_grant')
  })

  it('rejects an unknown or malformed code', async () => {
    await expectError(await exchange('A'.repeat(43), 'v'.repeat(43)), 400, 'invalid_grant')
    await expectError(await exchange('not a code', 'v'.repeat(43)), 400, 'invalid_grant')
  })

  it('rejects a resource the client may not use', async () => {
    const { code, verifier } = await obtainCode(h)
    await expectError(
      await exchange(code, verifier, { resource: 'https://evil.test' }),
      400,
      'invalid_target',
    )
  })
})

describe('client authentication', () => {
  const cc = (headers: Record<string, string>, body: Record<string, string> = {}) =>
    postForm(h, '/token', { grant_type: 'client_credentials', ...body }, headers)

  it('accepts client_secret_basic and client_secret_post', async () => {
    expect((await cc({ authorization: basic('service', SERVICE_SECRET) })).status).toBe(200)
    expect((await cc({}, { client_id: 'service', client_secret: SERVICE_SECRET })).status).toBe(200)
  })

  it('wrong secret with Basic: 401 invalid_client with WWW-Authenticate', async () => {
    const response = await cc({ authorization: basic('service', 'wrong') })
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="gatehouse"/)
    await expectError(response, 401, 'invalid_client')
  })

  it('wrong secret in the body: 401 invalid_client with a Basic challenge, secret not echoed', async () => {
    const response = await cc({}, { client_id: 'service', client_secret: 'wrong-secret-value' })
    // RFC 9110 §15.5.2: every 401 carries WWW-Authenticate.
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="gatehouse"/)
    const text = await response.clone().text()
    expect(text).not.toContain('wrong-secret-value')
    await expectError(response, 401, 'invalid_client')
  })

  it('unknown client, missing client, malformed Basic: 401', async () => {
    await expectError(await cc({ authorization: basic('nobody', 'x') }), 401, 'invalid_client')
    await expectError(await cc({}), 401, 'invalid_client')
    await expectError(await cc({ authorization: 'Basic !!!' }), 401, 'invalid_client')
  })

  it('two methods at once: invalid_request', async () => {
    const response = await cc(
      { authorization: basic('service', SERVICE_SECRET) },
      { client_secret: SERVICE_SECRET },
    )
    await expectError(response, 400, 'invalid_request')
  })

  it('a public client presenting a secret is refused', async () => {
    await expectError(await cc({}, { client_id: 'spa', client_secret: 'x' }), 401, 'invalid_client')
  })

  it('a confidential client without its secret is refused', async () => {
    await expectError(await cc({}, { client_id: 'service' }), 401, 'invalid_client')
  })
})

describe('grant types, scope, resource', () => {
  it('a public client cannot use client_credentials', async () => {
    await expectError(
      await postForm(h, '/token', { grant_type: 'client_credentials', client_id: 'spa' }),
      400,
      'unauthorized_client',
    )
  })

  it('unsupported and missing grant types', async () => {
    const auth = { authorization: basic('service', SERVICE_SECRET) }
    await expectError(
      await postForm(h, '/token', { grant_type: 'password', username: 'a', password: 'b' }, auth),
      400,
      'unsupported_grant_type',
    )
    await expectError(await postForm(h, '/token', {}, auth), 400, 'invalid_request')
  })

  it('scope outside the client: invalid_scope; none asked: the default scope', async () => {
    const auth = { authorization: basic('service', SERVICE_SECRET) }
    await expectError(
      await postForm(h, '/token', { grant_type: 'client_credentials', scope: 'admin' }, auth),
      400,
      'invalid_scope',
    )
    await expectError(
      await postForm(h, '/token', { grant_type: 'client_credentials', scope: 'openid' }, auth),
      400,
      'invalid_scope',
    )
    const ok = (await (
      await postForm(h, '/token', { grant_type: 'client_credentials' }, auth)
    ).json()) as { scope: string }
    expect(ok.scope).toBe('read')
  })

  it('resource outside the client audiences: invalid_target', async () => {
    const auth = { authorization: basic('service', SERVICE_SECRET) }
    await expectError(
      await postForm(
        h,
        '/token',
        { grant_type: 'client_credentials', resource: 'https://x.test' },
        auth,
      ),
      400,
      'invalid_target',
    )
    await expectError(
      await postForm(
        h,
        '/token',
        { grant_type: 'client_credentials', resource: 'not a uri' },
        auth,
      ),
      400,
      'invalid_target',
    )
  })
})

describe('form parsing', () => {
  const auth = { authorization: basic('service', SERVICE_SECRET) }

  it('only application/x-www-form-urlencoded', async () => {
    const json = await h.fetch(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    })
    await expectError(json, 400, 'invalid_request')
    const none = await h.fetch(`${ISSUER}/token`, {
      method: 'POST',
      headers: auth,
      body: 'grant_type=client_credentials',
    })
    expect(none.status).toBe(400)
    const utf8 = await postForm(h, '/token', 'grant_type=client_credentials', {
      ...auth,
      'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
    })
    expect(utf8.status).toBe(200)
  })

  it('rejects repeated parameters (RFC 6749 §3.1)', async () => {
    await expectError(
      await postForm(
        h,
        '/token',
        'grant_type=client_credentials&grant_type=client_credentials',
        auth,
      ),
      400,
      'invalid_request',
    )
    await expectError(
      await postForm(h, '/token', 'grant_type=client_credentials&scope=read&scope=write', auth),
      400,
      'invalid_request',
    )
    await expectError(
      await postForm(
        h,
        '/token',
        'grant_type=client_credentials&client_id=service&client_id=service',
        auth,
      ),
      400,
      'invalid_request',
    )
  })

  it('treats empty values as omitted', async () => {
    const response = await postForm(h, '/token', 'grant_type=client_credentials&scope=', auth)
    expect(((await response.json()) as { scope: string }).scope).toBe('read')
  })

  it('caps the body at 16 KiB (413), by Content-Length and while streaming', async () => {
    const big = `grant_type=client_credentials&pad=${'a'.repeat(17 * 1024)}`
    await expectError(await postForm(h, '/token', big, auth), 413, 'invalid_request')
    await expectError(
      await postForm(h, '/token', 'grant_type=client_credentials', {
        ...auth,
        'content-length': '99999',
      }),
      413,
      'invalid_request',
    )
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(1024).fill(97))
        controller.close()
      },
    })
    const streamed = await h.fetch(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    await expectError(streamed, 413, 'invalid_request')
  })

  it('rejects invalid UTF-8, raw or percent-encoded', async () => {
    const raw = await h.fetch(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
      body: new Uint8Array([0x67, 0x3d, 0xff, 0xfe]),
    })
    await expectError(raw, 400, 'invalid_request')
    await expectError(
      await postForm(h, '/token', 'grant_type=client_credentials&scope=%FF', auth),
      400,
      'invalid_request',
    )
  })

  it('never answers a hostile body with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.constantFrom('/token', '/revoke', '/introspect', '/login', '/logout', '/authorize'),
        fc.boolean(),
        async (body, path, withAuth) => {
          const response = await postForm(h, path, body, withAuth ? auth : {})
          expect(response.status).toBeLessThan(500)
        },
      ),
      { numRuns: 150 },
    )
  })
})
