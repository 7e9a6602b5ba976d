/**
 * CORS: the gateway (cors.ts, mounted when GATEHOUSE_ALLOWED_ORIGINS is set) and the origin's token
 * endpoints (per client). Allowed origins are echoed, never `*`; unknown origins get no CORS headers;
 * preflights are answered before authentication; `Vary: Origin` everywhere.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseVerificationConfig } from '../../../src/core/config.ts'
import { AuthError } from '../../../src/core/errors.ts'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { createApp } from '../../../src/http/app.ts'
import { cors } from '../../../src/http/cors.ts'
import { createJsonLogger } from '../../../src/http/log.ts'
import {
  ISSUER,
  SERVICE_SECRET,
  basic,
  createHarness,
  obtainCode,
  postForm,
} from '../oauth/support.ts'

const SPA = 'https://app.test'
const verified: VerifiedToken = {
  header: { alg: 'ES256' },
  claims: { iss: 'i', sub: 'user-1', aud: 'a', exp: 2e9, scope: 'read', client_id: 'spa' },
}

function gatewayApp(allowedOrigins?: string[]) {
  const upstreamCalls: string[] = []
  const app = createApp({
    role: 'edge',
    verifier: {
      verify: async (token) => {
        if (token !== 'good') throw new AuthError('signature_invalid', 'bad signature')
        return verified
      },
    },
    logger: createJsonLogger({ write: () => {} }),
    gateway: { url: 'https://upstream.test', ...(allowedOrigins ? { allowedOrigins } : {}) },
    fetch: async (input) => {
      upstreamCalls.push(input)
      // An upstream with its own, looser CORS: the gateway must not let it through.
      return Response.json(
        { ok: true },
        {
          headers: {
            'Access-Control-Allow-Origin': '*',
            'Access-Control-Allow-Credentials': 'true',
          },
        },
      )
    },
  })
  return { app, upstreamCalls }
}

const preflight = (origin: string) => ({
  method: 'OPTIONS',
  headers: {
    Origin: origin,
    'Access-Control-Request-Method': 'GET',
    'Access-Control-Request-Headers': 'authorization',
  },
})

describe('gateway CORS', () => {
  it('answers a preflight from an allowed origin before authentication', async () => {
    const { app, upstreamCalls } = gatewayApp([SPA])
    const res = await app.request('/api/orders', preflight(SPA))
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(SPA)
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/)
    expect(res.headers.get('access-control-allow-methods')).toMatch(/GET/)
    expect(res.headers.get('access-control-max-age')).toBe('600')
    expect(res.headers.get('vary')).toBe('Origin')
    expect(res.headers.has('access-control-allow-credentials')).toBe(false)
    expect(upstreamCalls).toHaveLength(0)
  })

  it('gives an unknown origin no CORS headers, on preflights and on requests', async () => {
    const { app } = gatewayApp([SPA])
    const pre = await app.request('/api/orders', preflight('https://evil.test'))
    expect(pre.status).toBe(204)
    expect([...pre.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([])
    const res = await app.request('/api/orders', {
      headers: { Origin: 'https://evil.test', Authorization: 'Bearer good' },
    })
    expect(res.status).toBe(200)
    // The upstream's `*` and credentials flag are stripped: only the gateway decides.
    expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([])
    expect(res.headers.get('vary')).toMatch(/Origin/)
  })

  it('echoes an allowed origin on success and on a 401, exposing WWW-Authenticate', async () => {
    const { app } = gatewayApp([SPA, 'http://127.0.0.1:5173'])
    const ok = await app.request('/api/orders', {
      headers: { Origin: SPA, Authorization: 'Bearer good' },
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe(SPA)
    expect(ok.headers.has('access-control-allow-credentials')).toBe(false)
    expect(await ok.json()).toEqual({ ok: true })
    const denied = await app.request('/api/orders', {
      headers: { Origin: 'http://127.0.0.1:5173', Authorization: 'Bearer bad' },
    })
    expect(denied.status).toBe(401)
    expect(denied.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173')
    expect(denied.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/)
    expect(denied.headers.get('www-authenticate')).toMatch(/invalid_token/)
    expect(denied.headers.get('vary')).toBe('Origin')
  })

  it('leaves CORS alone when no origins are configured (the preflight meets the guard)', async () => {
    const { app } = gatewayApp()
    const res = await app.request('/api/orders', preflight(SPA))
    expect(res.status).toBe(401)
    expect(res.headers.has('access-control-allow-origin')).toBe(false)
  })

  it('does not touch routes outside the gateway', async () => {
    const { app } = gatewayApp([SPA])
    const res = await app.request('/healthz', { headers: { Origin: SPA } })
    expect(res.headers.has('access-control-allow-origin')).toBe(false)
  })

  it('refuses malformed options at construction', () => {
    expect(() => cors({ allowedOrigins: ['*'] })).toThrow(TypeError)
    expect(() => cors({ allowedOrigins: ['https://app.test/path'] })).toThrow(TypeError)
    expect(() => cors({ allowedOrigins: [SPA], allowHeaders: ['bad header'] })).toThrow(TypeError)
    expect(() => cors({ allowedOrigins: [SPA], maxAgeSeconds: -1 })).toThrow(TypeError)
  })
})

describe('GATEHOUSE_ALLOWED_ORIGINS', () => {
  const base = {
    GATEHOUSE_ISSUER: 'https://issuer.test',
    GATEHOUSE_AUDIENCE: 'https://api.test',
    GATEHOUSE_JWKS_URL: 'https://issuer.test/jwks',
  }

  it('reads origins separated by spaces or commas', () => {
    const config = parseVerificationConfig({
      ...base,
      GATEHOUSE_ALLOWED_ORIGINS: 'https://app.test, http://127.0.0.1:5173 https://b.test',
    })
    expect(config.allowedOrigins).toEqual([
      'https://app.test',
      'http://127.0.0.1:5173',
      'https://b.test',
    ])
    expect(parseVerificationConfig(base).allowedOrigins).toBeUndefined()
  })

  it.each(['*', 'null', 'https://app.test/', 'app.test', 'ftp://app.test'])(
    'refuses %s, naming the variable',
    (value) => {
      let error: unknown
      try {
        parseVerificationConfig({ ...base, GATEHOUSE_ALLOWED_ORIGINS: value })
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).fields).toEqual(['GATEHOUSE_ALLOWED_ORIGINS'])
    },
  )
})

describe('token endpoint CORS is per client', () => {
  it('echoes the origin only to a client that registered it', async () => {
    const h = await createHarness()
    // The public SPA registered https://app.test: its code redemption is readable from there.
    const { code, verifier } = await obtainCode(h)
    const spa = await postForm(
      h,
      '/token',
      {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: 'https://app.test/callback',
        client_id: 'spa',
      },
      { Origin: SPA },
    )
    expect(spa.status).toBe(200)
    expect(spa.headers.get('access-control-allow-origin')).toBe(SPA)
    expect(spa.headers.get('vary')).toMatch(/Origin/)
    // The confidential service registered no origin: a page on app.test may not read its tokens.
    const service = await postForm(
      h,
      '/token',
      { grant_type: 'client_credentials' },
      { Origin: SPA, Authorization: basic('service', SERVICE_SECRET) },
    )
    expect(service.status).toBe(200)
    expect(service.headers.has('access-control-allow-origin')).toBe(false)
  })

  it('answers preflights for the union of registered origins, and nothing for others', async () => {
    const h = await createHarness()
    const ok = await h.fetch(`${ISSUER}/token`, preflight(SPA))
    expect(ok.headers.get('access-control-allow-origin')).toBe(SPA)
    const other = await h.fetch(`${ISSUER}/token`, preflight('https://evil.test'))
    expect(other.headers.has('access-control-allow-origin')).toBe(false)
    expect(other.headers.get('vary')).toMatch(/Origin/)
  })
})
