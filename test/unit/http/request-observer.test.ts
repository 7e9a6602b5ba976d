/**
 * Requests are observed around the app's `fetch` (request-observer.ts), not by a middleware layer, so
 * a route that answers at once is answered without a promise — and `/verify` answers an L1 hit at
 * once — while every check and every observation (request id, access log, metrics) still happens.
 * These tests pin that shape (a `Response`, not a promise, where nothing waits) and that the fast
 * paths answer exactly what the general ones do.
 */
import { describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { createApp } from '../../../src/http/app.ts'
import { authenticate, authenticateNow } from '../../../src/http/authenticate.ts'
import { buildVerifier } from '../../../src/http/build-verifier.ts'
import type { LogRecord } from '../../../src/http/log.ts'
import type { AnsweredRequest, TokenVerifier } from '../../../src/http/types.ts'
import { withRevocationCheck } from '../../../src/revocation/revocation-check.ts'
import { publicJwks, signTestToken, TEST_AUDIENCE, TEST_ISSUER } from '../../fixtures/keys.ts'

const T0 = 1_800_000_000_000

async function appWithClock() {
  const clock = { ms: T0 }
  const verifier = await buildVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    keySource: { kind: 'inline', jwks: publicJwks() },
    now: () => clock.ms,
  })
  const records: LogRecord[] = []
  const answered: AnsweredRequest[] = []
  const app = createApp({
    role: 'edge',
    verifier,
    logger: { log: (r) => void records.push(r) },
    requestHooks: { after: (a) => void answered.push(a) },
    extend: (a) => a.get('/noop', (c) => c.text('ok')),
  })
  return { app, clock, records, answered }
}

const get = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://gatehouse.test${path}`, { headers })

describe('observed without a middleware layer', () => {
  it('answers a synchronous route without a promise, with its id, log line and metrics', async () => {
    const { app, records, answered } = await appWithClock()
    const res = app.fetch(get('/noop', { 'X-Request-Id': 'r-1' }))
    expect(res).toBeInstanceOf(Response)
    expect((res as Response).headers.get('X-Request-Id')).toBe('r-1')
    expect(await (res as Response).text()).toBe('ok')
    expect(records).toEqual([
      expect.objectContaining({ msg: 'request', requestId: 'r-1', path: '/noop', status: 200 }),
    ])
    expect(answered).toEqual([{ method: 'GET', route: '/noop', status: 200 }])
  })

  it('answers an L1 hit on /verify without a promise; a miss, an expired or a bad token still waits or fails', async () => {
    const { app, clock, records } = await appWithClock()
    const token = await signTestToken({ sub: 'alice' }, { now: T0 / 1000, lifetimeSeconds: 60 })
    const auth = { Authorization: `Bearer ${token}` }
    const miss = app.fetch(get('/verify', auth))
    expect(miss).toBeInstanceOf(Promise)
    expect((await miss).status).toBe(200)

    const hit = app.fetch(get('/verify', auth))
    expect(hit).toBeInstanceOf(Response)
    const body = (await (hit as Response).json()) as Record<string, unknown>
    expect(body).toMatchObject({ active: true, sub: 'alice' })
    expect((hit as Response).headers.get('cache-control')).toBe('no-store')
    expect((hit as Response).headers.get('content-type')).toBe('application/json')

    // The same checks on a hit: a query-string token, a second token, then expiry.
    expect((await app.fetch(get(`/verify?access_token=${token}`, auth))).status).toBe(400)
    const twice = { Authorization: `Bearer ${token}, Bearer ${token}` }
    expect((await app.fetch(get('/verify', twice))).status).toBe(400)
    clock.ms = T0 + 60_000
    const expired = await app.fetch(get('/verify', auth))
    expect(expired.status).toBe(401)
    expect(records.at(-1)).toMatchObject({ status: 401, error: 'token_expired' })
  })
})

describe('authenticateNow', () => {
  /** What an authentication ends in: the subject, or the error code. */
  async function outcome(run: () => VerifiedToken | Promise<VerifiedToken>): Promise<string> {
    try {
      return `ok:${(await run()).claims.sub}`
    } catch (err) {
      if (err instanceof AuthError) return `error:${err.code}`
      throw err
    }
  }

  it('ends exactly as authenticate does, for every shape of request', async () => {
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
    })
    const token = await signTestToken({ sub: 'alice', scope: 'read' })
    const bound = await signTestToken({ sub: 'bob', cnf: { jkt: 'x'.repeat(43) } })
    const form = (body: string, headers: Record<string, string> = {}) =>
      new Request('http://x/verify', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
        body,
      })
    const cases: [string, () => Request, { scopes?: string[]; audience?: string }?][] = [
      ['bearer', () => get('/verify', { Authorization: `Bearer ${token}` })],
      ['none', () => get('/verify')],
      ['basic', () => get('/verify', { Authorization: 'Basic dXNlcjpwYXNz' })],
      ['malformed', () => get('/verify', { Authorization: 'Bearer a b' })],
      ['query', () => get(`/verify?access_token=${token}`)],
      ['bad signature', () => get('/verify', { Authorization: `Bearer ${token}x` })],
      ['dpop scheme', () => get('/verify', { Authorization: `DPoP ${token}` })],
      ['bound as bearer', () => get('/verify', { Authorization: `Bearer ${bound}` })],
      ['form', () => form(`access_token=${token}`)],
      [
        'form and header',
        () => form(`access_token=${token}`, { Authorization: `Bearer ${token}` }),
      ],
      ['scope', () => get('/verify', { Authorization: `Bearer ${token}` }), { scopes: ['write'] }],
      ['audience', () => get('/x', { Authorization: `Bearer ${token}` }), { audience: 'other' }],
    ]
    for (const [name, request, extra] of cases) {
      const options = { allowFormBody: true, ...extra }
      // Twice each: a miss, then (for a valid token) an L1 hit.
      for (let i = 0; i < 2; i++) {
        const expected = await outcome(() => authenticate(request(), verifier, options))
        expect([name, await outcome(() => authenticateNow(request(), verifier, options))]).toEqual([
          name,
          expected,
        ])
      }
    }
  })
})

describe('withRevocationCheck on an L1 hit', () => {
  it('checks a cached token every time: a revoked one is refused, a stale closed filter throws', async () => {
    const verified: VerifiedToken = {
      header: { alg: 'ES256' },
      claims: { iss: 'i', sub: 's', aud: 'a', exp: 2e9, jti: 'j-1' },
    }
    const inner: TokenVerifier & { verifyNow: () => VerifiedToken } = {
      verify: () => Promise.resolve(verified),
      verifyNow: () => verified,
    }
    let state: 'clear' | 'revoked' | 'stale' = 'clear'
    const checked = withRevocationCheck(inner, () => {
      if (state === 'stale') throw new AuthError('revocation_unavailable', 'stale')
      return state === 'revoked'
        ? Promise.reject(new AuthError('token_revoked', 'revoked'))
        : undefined
    })
    expect(checked.verifyNow('t')).toBe(verified)
    state = 'revoked'
    await expect(checked.verifyNow('t')).rejects.toMatchObject({ code: 'token_revoked' })
    await expect(checked.verify('t')).rejects.toMatchObject({ code: 'token_revoked' })
    state = 'stale'
    expect(() => checked.verifyNow('t')).toThrow(AuthError)
    await expect(checked.verify('t')).rejects.toMatchObject({ code: 'revocation_unavailable' })
  })
})
