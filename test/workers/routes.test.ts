/**
 * The shared route suite inside workerd (apps built with createApp in the test, upstream an injected
 * fetch), and the real Worker default export with the bindings of wrangler.test.toml [vars].
 */
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { TEST_AUDIENCE, TEST_ISSUER, signTestToken, type TestAlg } from '../fixtures/keys.ts'
import {
  UPSTREAM_RESPONSE,
  defineRouteSuite,
  flipSignature,
  type Upstream,
  type UpstreamRequest,
} from '../shared/routes.case.ts'

/** workerd cannot serve a second local server here, so the upstream is an injected fetch. */
async function fakeUpstream(): Promise<Upstream> {
  const requests: UpstreamRequest[] = []
  const fetchFn: typeof fetch = async (input, init) => {
    const req = new Request(input, init)
    const url = new URL(req.url)
    requests.push({
      method: req.method,
      url: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body: await req.text(),
    })
    return new Response(UPSTREAM_RESPONSE.body, {
      status: UPSTREAM_RESPONSE.status,
      headers: [UPSTREAM_RESPONSE.header as [string, string]],
    })
  }
  return { url: 'https://upstream.test', fetch: fetchFn, requests, close: async () => {} }
}

describe('routes inside workerd (createApp)', () =>
  defineRouteSuite({
    serve: async (app) => ({
      fetch: async (path, init) => app.fetch(new Request(`http://gatehouse.test${path}`, init)),
      close: async () => {},
    }),
    upstream: fakeUpstream,
  }))

describe('the Worker default export with wrangler.test.toml bindings', () => {
  const call = (path: string, init?: RequestInit) =>
    exports.default.fetch(new Request(`http://gatehouse.test${path}`, init))

  it('has the test bindings', () => {
    expect(env.GATEHOUSE_ISSUER).toBe(TEST_ISSUER)
    expect(env.GATEHOUSE_AUDIENCE).toBe(TEST_AUDIENCE)
  })

  it('answers /healthz', async () => {
    const res = await call('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  for (const alg of ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as TestAlg[]) {
    it(`verifies a ${alg} token on /verify`, async () => {
      const token = await signTestToken({ scope: 'read' }, { alg })
      const res = await call('/verify', { headers: { Authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ active: true, sub: 'user-1', scope: 'read' })
    })
  }

  it('rejects a bad signature with 401 invalid_token and a missing token without error code', async () => {
    const token = flipSignature(await signTestToken())
    const bad = await call('/verify', { headers: { Authorization: `Bearer ${token}` } })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('WWW-Authenticate')).toContain('error="invalid_token"')
    const missing = await call('/verify', { method: 'POST' })
    expect(missing.status).toBe(401)
    expect(missing.headers.get('WWW-Authenticate')).toBe('Bearer realm="gatehouse"')
  })

  it('has no gateway without GATEHOUSE_UPSTREAM_URL', async () => {
    const token = await signTestToken()
    const res = await call('/api/x', { headers: { Authorization: `Bearer ${token}` } })
    expect(res.status).toBe(404)
  })
})
