/**
 * The route suite, runtime-neutral: it builds apps with `createApp` and talks HTTP to them through a
 * harness, so the same cases run in-process (`app.request`), through a real @hono/node-server, and
 * inside workerd. The clock is injected (`now`), so expiry and leeway edges need no sleeping.
 */
import type { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/http/app.ts'
import { buildVerifier } from '../../src/http/build-verifier.ts'
import { createJsonLogger } from '../../src/http/log.ts'
import type { GatehouseEnv, GatewayOptions, TokenVerifier } from '../../src/http/types.ts'
import {
  TEST_AUDIENCE,
  TEST_ISSUER,
  publicJwks,
  signTestToken,
  type TestAlg,
} from '../fixtures/keys.ts'

/** How a harness lets the suite talk to an app. `path` includes the query string. */
export interface ServedApp {
  fetch(path: string, init?: RequestInit): Promise<Response>
  close(): Promise<void>
}

/** What the fake upstream saw. */
export interface UpstreamRequest {
  method: string
  /** Path and query as received. */
  url: string
  headers: Record<string, string>
  body: string
}

/** A fake upstream that answers 201 `created` with `X-Upstream: yes` and records what it got. */
export interface Upstream {
  /** Base URL to configure as the gateway's upstream (the suite appends `/v1`). */
  url: string
  /** Injected into deps when the runtime cannot reach a local server (workerd). */
  fetch?: typeof fetch
  requests: UpstreamRequest[]
  close(): Promise<void>
}

export interface RouteHarness {
  serve(app: Hono<GatehouseEnv>): Promise<ServedApp>
  upstream(): Promise<Upstream>
}

export const UPSTREAM_RESPONSE = { status: 201, body: 'created', header: ['x-upstream', 'yes'] }

const ALGS: TestAlg[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']
const T0 = 1_900_000_000 // seconds; every token in the suite is signed relative to this
const LEEWAY = 30

interface AppOptions {
  gateway?: Omit<GatewayOptions, 'url'> & { upstream: Upstream }
  verifier?: TokenVerifier
  extend?: (app: Hono<GatehouseEnv>) => void
  fetch?: typeof fetch
}

/**
 * Registers the suite in the caller's `describe`.
 *
 * @example defineRouteSuite({ serve: async (app) => inProcess(app), upstream: localUpstream })
 */
export function defineRouteSuite(harness: RouteHarness): void {
  let nowMs = T0 * 1000
  const now = () => nowMs
  const cleanups: (() => Promise<void>)[] = []
  let lines: string[] = []

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
    nowMs = T0 * 1000
    lines = []
  })

  const sign = (
    claims: Record<string, unknown> = {},
    options: Parameters<typeof signTestToken>[1] = {},
  ) => signTestToken(claims, { now: T0, ...options })

  async function start(options: AppOptions = {}): Promise<ServedApp> {
    const logger = createJsonLogger({ level: 'debug', write: (line) => lines.push(line), now })
    const verifier =
      options.verifier ??
      (await buildVerifier({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        keySource: { kind: 'inline', jwks: publicJwks() },
        clockLeewaySeconds: LEEWAY,
        now,
      }))
    const gateway = options.gateway
    const fetchFn = options.fetch ?? gateway?.upstream.fetch
    const app = createApp({
      role: 'edge',
      verifier,
      logger,
      ...(gateway === undefined
        ? {}
        : {
            gateway: {
              url: `${gateway.upstream.url}/v1`,
              ...(gateway.scopes === undefined ? {} : { scopes: gateway.scopes }),
              ...(gateway.forwardAuthorization === undefined
                ? {}
                : { forwardAuthorization: gateway.forwardAuthorization }),
            },
          }),
      ...(fetchFn === undefined ? {} : { fetch: fetchFn }),
      ...(options.extend === undefined ? {} : { extend: options.extend }),
    })
    const served = await harness.serve(app)
    cleanups.push(() => served.close())
    return served
  }

  async function upstream(): Promise<Upstream> {
    const u = await harness.upstream()
    cleanups.push(() => u.close())
    return u
  }

  const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } })

  async function expectChallenge(res: Response, status: number, error: string) {
    expect(res.status).toBe(status)
    const challenge = res.headers.get('WWW-Authenticate') ?? ''
    expect(challenge).toMatch(/^Bearer realm="gatehouse", /)
    expect(challenge).toContain(`error="${error}"`)
    expect(challenge).toMatch(/error_description="[^"\\]+"/)
    const body = (await res.json()) as { error: string; error_description: string }
    expect(body.error).toBe(error)
    expect(typeof body.error_description).toBe('string')
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    return { challenge, body }
  }

  describe('GET|POST /verify', () => {
    for (const alg of ALGS) {
      it(`accepts a valid ${alg} token and answers its claims`, async () => {
        const app = await start()
        const token = await sign({ scope: 'read write' }, { alg })
        const res = await app.fetch('/verify', bearer(token))
        expect(res.status).toBe(200)
        expect(res.headers.get('Cache-Control')).toBe('no-store')
        const body = (await res.json()) as Record<string, unknown>
        expect(body).toMatchObject({
          active: true,
          iss: TEST_ISSUER,
          aud: TEST_AUDIENCE,
          sub: 'user-1',
          client_id: 'client-1',
          scope: 'read write',
          exp: T0 + 300,
        })
        expect(Object.keys(body)[0]).toBe('active')
      })
    }

    it('answers POST with a header token, and a claim named "active" cannot override ours', async () => {
      const app = await start()
      const token = await sign({ active: false })
      const res = await app.fetch('/verify', { method: 'POST', ...bearer(token) })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { active: unknown }).active).toBe(true)
    })

    it('missing token: 401 with a realm-only challenge, no error code (RFC 6750 §3.1)', async () => {
      const app = await start()
      const res = await app.fetch('/verify')
      expect(res.status).toBe(401)
      expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="gatehouse"')
      expect(res.headers.get('Cache-Control')).toBe('no-store')
      expect(await res.json()).toHaveProperty('error_description')
    })

    it('another auth scheme counts as no token: 401 without an error code', async () => {
      const app = await start()
      const res = await app.fetch('/verify', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } })
      expect(res.status).toBe(401)
      expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="gatehouse"')
    })

    const invalid: [string, () => Promise<string>][] = [
      ['expired', () => sign({}, { now: T0 - 400 })],
      ['from another issuer', () => sign({ iss: 'https://evil.test' })],
      ['for another audience', () => sign({ aud: 'https://other.test' })],
      ['of the wrong typ', () => sign({}, { header: { typ: 'JWT' } })],
      ['with a bad signature', async () => flipSignature(await sign())],
      ['with alg none', async () => algNone(await sign())],
      ['with an unknown kid', () => sign({}, { header: { kid: 'nobody' } })],
      ['oversized (9 KB)', () => sign({ pad: 'x'.repeat(9000) })],
      ['not a JWT', async () => 'abc.def'],
    ]
    for (const [name, make] of invalid) {
      it(`rejects a token ${name}: 401 invalid_token`, async () => {
        const app = await start()
        const token = await make()
        const res = await app.fetch('/verify', bearer(token))
        const { challenge, body } = await expectChallenge(res, 401, 'invalid_token')
        expect(challenge).not.toContain(token)
        expect(JSON.stringify(body)).not.toContain(token.split('.')[2] || token)
      })
    }

    const malformed: [string, Record<string, string>][] = [
      ['two tokens in one header', { Authorization: 'Bearer abc.def.ghi second' }],
      ['a Bearer header with no token', { Authorization: 'Bearer' }],
      ['a token with characters outside b64token', { Authorization: 'Bearer a"b' }],
    ]
    for (const [name, headers] of malformed) {
      it(`answers ${name} with 400 invalid_request`, async () => {
        const app = await start()
        await expectChallenge(await app.fetch('/verify', { headers }), 400, 'invalid_request')
      })
    }

    it('answers two Authorization headers with 400 invalid_request', async () => {
      const app = await start()
      const token = await sign()
      const headers = new Headers()
      headers.append('Authorization', `Bearer ${token}`)
      headers.append('Authorization', `Bearer ${token}`)
      await expectChallenge(await app.fetch('/verify', { headers }), 400, 'invalid_request')
    })

    it('accepts a form-body token on POST (RFC 6750 §2.2)', async () => {
      const app = await start()
      const token = await sign({}, { alg: 'EdDSA' })
      const res = await app.fetch('/verify', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' },
        body: new URLSearchParams({ access_token: token, other: '1' }).toString(),
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ active: true, sub: 'user-1' })
    })

    it('rejects a token in both the header and the body with 400', async () => {
      const app = await start()
      const token = await sign()
      const res = await app.fetch('/verify', {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: `access_token=${token}`,
      })
      await expectChallenge(res, 400, 'invalid_request')
    })

    it('rejects two access_token body parameters with 400', async () => {
      const app = await start()
      const token = await sign()
      const res = await app.fetch('/verify', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `access_token=${token}&access_token=${token}`,
      })
      await expectChallenge(res, 400, 'invalid_request')
    })

    it('rejects a query-string token (RFC 9700 §4.3.2), alone or next to a header', async () => {
      const app = await start()
      const token = await sign()
      const alone = await app.fetch(`/verify?access_token=${token}`)
      await expectChallenge(alone, 400, 'invalid_request')
      const both = await app.fetch(`/verify?access%5Ftoken=${token}`, bearer(token))
      await expectChallenge(both, 400, 'invalid_request')
    })

    it('refuses other methods with 405 and Allow', async () => {
      const app = await start()
      const res = await app.fetch('/verify', { method: 'PUT' })
      expect(res.status).toBe(405)
      expect(res.headers.get('Allow')).toBe('GET, POST')
    })

    it('applies exp with the configured leeway through HTTP, L1 cache included', async () => {
      const app = await start()
      const token = await sign({}, { lifetimeSeconds: 300 }) // exp = T0 + 300
      expect((await app.fetch('/verify', bearer(token))).status).toBe(200) // cached now
      nowMs = (T0 + 300 + LEEWAY - 1) * 1000
      expect((await app.fetch('/verify', bearer(token))).status).toBe(200)
      nowMs = (T0 + 300 + LEEWAY) * 1000 // RFC 7519 §4.1.4: "on or after" exp (+ leeway)
      await expectChallenge(await app.fetch('/verify', bearer(token)), 401, 'invalid_token')
    })

    it('rejects a token issued in the future beyond the leeway', async () => {
      const app = await start()
      const early = await sign({}, { now: T0 + LEEWAY + 5 })
      await expectChallenge(await app.fetch('/verify', bearer(early)), 401, 'invalid_token')
    })

    it('answers 503 with Retry-After when the key set cannot be fetched', async () => {
      const verifier = await buildVerifier({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        keySource: { kind: 'url', url: 'https://issuer.test/jwks' },
        fetch: async () => {
          throw new TypeError('network down')
        },
        now,
      })
      const app = await start({ verifier })
      const res = await app.fetch('/verify', bearer(await sign()))
      expect(res.status).toBe(503)
      expect(res.headers.get('Retry-After')).toMatch(/^\d+$/)
      expect(((await res.json()) as { error: string }).error).toBe('server_error')
    })
  })

  describe('errors, health, request ids, logs', () => {
    it('GET /healthz answers ok', async () => {
      const app = await start()
      const res = await app.fetch('/healthz')
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ status: 'ok' })
    })

    it('unknown routes are a JSON 404', async () => {
      const app = await start()
      const res = await app.fetch('/nope')
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: string }).error).toBe('not_found')
    })

    it('an unexpected error is a generic 500; its message reaches neither body nor log', async () => {
      const secret = 'eyJzZWNyZXQiOnRydWV9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl'
      const app = await start({
        extend: (a) =>
          a.get('/boom', () => {
            throw new Error(`failed on ${secret}`)
          }),
      })
      const res = await app.fetch('/boom', { headers: { 'X-Request-Id': 'req-boom-1' } })
      expect(res.status).toBe(500)
      const text = await res.text()
      expect(JSON.parse(text)).toEqual({
        error: 'server_error',
        error_description: 'an internal error occurred',
      })
      expect(lines.join('\n')).not.toContain('secret')
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(logged).toContainEqual(
        expect.objectContaining({
          level: 'error',
          msg: 'unhandled error',
          requestId: 'req-boom-1',
        }),
      )
    })

    it('a verifier failing with something other than AuthError is a 500, not a 401', async () => {
      const app = await start({
        verifier: {
          verify: async () => {
            throw new RangeError('boom')
          },
        },
      })
      const res = await app.fetch('/verify', bearer(await sign()))
      expect(res.status).toBe(500)
    })

    it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
      const app = await start()
      const sane = await app.fetch('/healthz', { headers: { 'X-Request-Id': 'abc-123_XYZ' } })
      expect(sane.headers.get('X-Request-Id')).toBe('abc-123_XYZ')
      const unsafe = await app.fetch('/healthz', { headers: { 'X-Request-Id': 'a b<script>' } })
      expect(unsafe.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/)
      const long = await app.fetch('/healthz', { headers: { 'X-Request-Id': 'x'.repeat(65) } })
      expect(long.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/)
    })

    it('logs one line per request without query string and never the token', async () => {
      const app = await start()
      const token = await sign()
      const form = { 'Content-Type': 'application/x-www-form-urlencoded' }
      await app.fetch('/verify?trace=1', { ...bearer(token) })
      await app.fetch('/verify', { method: 'POST', headers: form, body: `access_token=${token}` })
      await app.fetch(`/verify?access_token=${token}`)
      await app.fetch('/verify', bearer(flipSignature(token)))
      await app.fetch(`/x/${token}`)
      await app.fetch('/verify', {
        headers: { Authorization: `Bearer ${token}`, Cookie: 'sid=s3cr3t' },
      })
      const all = lines.join('\n')
      for (const part of token.split('.')) expect(all).not.toContain(part)
      expect(all).not.toContain('s3cr3t')
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      const requests = records.filter((r) => r.msg === 'request')
      expect(requests).toHaveLength(6)
      expect(requests[0]).toMatchObject({
        level: 'info',
        method: 'GET',
        path: '/verify',
        status: 200,
      })
      expect(requests[0]?.time).toBe(new Date(T0 * 1000).toISOString())
      expect(typeof requests[0]?.requestId).toBe('string')
      expect(typeof requests[0]?.durationMs).toBe('number')
      expect(requests[2]).toMatchObject({ status: 400, error: 'request_malformed' })
      expect(requests[3]).toMatchObject({ status: 401, error: 'signature_invalid' })
    })
  })

  describe('gateway mode (/api/*)', () => {
    it('forwards method, path, query, body and headers with identity set and spoofs stripped', async () => {
      const up = await upstream()
      const app = await start({ gateway: { upstream: up } })
      const token = await sign({ scope: 'orders:read orders:write', client_id: 'spa' })
      const res = await app.fetch('/api/orders/42?page=2&sort=asc', {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'X-Custom': 'kept',
          'X-Gatehouse-Subject': 'admin',
          'x-gatehouse-scope': 'everything',
          'X-GATEHOUSE-CLIENT-ID': 'spoofed',
          'X-Gatehouse-Anything': 'spoofed',
        },
        body: JSON.stringify({ item: 'book' }),
      })
      expect(res.status).toBe(UPSTREAM_RESPONSE.status)
      expect(await res.text()).toBe(UPSTREAM_RESPONSE.body)
      expect(res.headers.get('x-upstream')).toBe('yes')
      expect(up.requests).toHaveLength(1)
      const got = up.requests[0]!
      expect(got.method).toBe('POST')
      expect(got.url).toBe('/v1/orders/42?page=2&sort=asc')
      expect(got.body).toBe('{"item":"book"}')
      expect(got.headers).toMatchObject({
        'content-type': 'application/json',
        'x-custom': 'kept',
        'x-gatehouse-subject': 'user-1',
        'x-gatehouse-scope': 'orders:read orders:write',
        'x-gatehouse-client-id': 'spa',
      })
      expect(got.headers['x-request-id']).toBe(res.headers.get('X-Request-Id'))
      expect(got.headers).not.toHaveProperty('authorization')
      expect(got.headers).not.toHaveProperty('x-gatehouse-anything')
    })

    it('maps /api to the upstream root and forwards GET without a body', async () => {
      const up = await upstream()
      const app = await start({ gateway: { upstream: up } })
      const res = await app.fetch('/api', bearer(await sign()))
      expect(res.status).toBe(201)
      expect(up.requests[0]).toMatchObject({ method: 'GET', url: '/v1/', body: '' })
      expect(up.requests[0]!.headers).not.toHaveProperty('x-gatehouse-scope')
    })

    it('keeps Authorization when configured to forward it', async () => {
      const up = await upstream()
      const app = await start({ gateway: { upstream: up, forwardAuthorization: true } })
      const token = await sign()
      await app.fetch('/api/x', bearer(token))
      expect(up.requests[0]!.headers.authorization).toBe(`Bearer ${token}`)
    })

    it('does not reach the upstream without a valid token', async () => {
      const up = await upstream()
      const app = await start({ gateway: { upstream: up } })
      const missing = await app.fetch('/api/x', { method: 'DELETE' })
      expect(missing.status).toBe(401)
      expect(missing.headers.get('WWW-Authenticate')).toBe('Bearer realm="gatehouse"')
      const expired = await app.fetch('/api/x', bearer(await sign({}, { now: T0 - 1000 })))
      await expectChallenge(expired, 401, 'invalid_token')
      const query = await app.fetch(`/api/x?access_token=${await sign()}`)
      await expectChallenge(query, 400, 'invalid_request')
      expect(up.requests).toHaveLength(0)
    })

    it('answers 403 insufficient_scope with scope="..." when a required scope is missing', async () => {
      const up = await upstream()
      const app = await start({
        gateway: { upstream: up, scopes: ['orders:read', 'orders:write'] },
      })
      const res = await app.fetch('/api/orders', bearer(await sign({ scope: 'orders:read' })))
      const { challenge } = await expectChallenge(res, 403, 'insufficient_scope')
      expect(challenge).toContain('scope="orders:read orders:write"')
      const ok = await app.fetch(
        '/api/orders',
        bearer(await sign({ scope: 'orders:write orders:read' })),
      )
      expect(ok.status).toBe(201)
      expect(up.requests).toHaveLength(1)
    })

    it('refuses to forward a subject that cannot travel in a header', async () => {
      const up = await upstream()
      const app = await start({ gateway: { upstream: up } })
      const res = await app.fetch('/api/x', bearer(await sign({ sub: 'user\r\nX-Admin: 1' })))
      await expectChallenge(res, 401, 'invalid_token')
      expect(up.requests).toHaveLength(0)
    })

    it('answers 503 + Retry-After when the upstream fails, without leaking why', async () => {
      const up = await upstream()
      const app = await start({
        gateway: { upstream: up },
        fetch: async () => {
          throw new TypeError('connect ECONNREFUSED 10.0.0.1:443')
        },
      })
      const res = await app.fetch('/api/x', bearer(await sign()))
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
      expect(await res.text()).not.toContain('ECONNREFUSED')
    })
  })
}

/** Changes one character in the middle of the signature: same length, wrong bytes. */
export function flipSignature(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string]
  const i = Math.floor(s.length / 2)
  const c = s[i] === 'A' ? 'B' : 'A'
  return `${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`
}

/** The same payload under an `alg: none` header and an empty signature (RFC 8725 §2.1). */
export function algNone(token: string): string {
  const payload = token.split('.')[1]!
  const header = btoa(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'test-es256' }))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
  return `${header}.${payload}.`
}
