/**
 * The one `onError`: each kind of error in the hierarchy becomes its RFC body and headers, in the
 * route's declared format, and nothing it does not own (a message, a store detail) reaches the client.
 */
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { AuthError, ConfigError, GatehouseError, UpstreamError } from '../../../src/core/errors.ts'
import { OAuthError } from '../../../src/core/oauth/errors.ts'
import { LoginError } from '../../../src/core/oauth/users.ts'
import { errorFormat, errorHandler } from '../../../src/http/error-response.ts'
import type { LogRecord } from '../../../src/http/log.ts'
import type { ErrorFormat, GatehouseEnv } from '../../../src/http/types.ts'
import { StoreError } from '../../../src/store/errors.ts'

function appThrowing(err: unknown, format?: ErrorFormat) {
  const logs: LogRecord[] = []
  const app = new Hono<GatehouseEnv>()
  if (format) app.use(errorFormat(format))
  app.get('/x', () => {
    throw err
  })
  app.onError(errorHandler({ log: (r) => logs.push(r) }, 'gatehouse'))
  return { logs, request: () => app.request('/x') }
}

describe('errorHandler', () => {
  it('is one hierarchy: every response-bound error is a GatehouseError with a stable code', () => {
    const errors = [
      new AuthError('token_expired', 'token expired'),
      new OAuthError('invalid_grant', 'The code is invalid.'),
      new StoreError('unavailable', 'get', 'fetch failed'),
      new UpstreamError('upstream_timeout', 'the upstream service did not answer'),
      new ConfigError([{ field: 'PORT', message: 'must be an integer' }]),
      new LoginError('rate_limited', 42),
    ]
    for (const e of errors) {
      expect(e).toBeInstanceOf(GatehouseError)
      expect(e.code).toMatch(/^[a-z_]+$/)
    }
  })

  it('answers an OAuth error with the RFC 6749 §5.2 body, no-store, and Basic on invalid_client', async () => {
    const res = await appThrowing(
      new OAuthError('invalid_client', 'Client authentication failed.'),
    ).request()
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="gatehouse", charset="UTF-8"')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('pragma')).toBe('no-cache')
    expect(await res.json()).toEqual({
      error: 'invalid_client',
      error_description: 'Client authentication failed.',
    })
  })

  it('adds an RFC 6750 Bearer challenge at a protected resource', async () => {
    const res = await appThrowing(
      new OAuthError('invalid_token', 'The token is expired.'),
      'bearer',
    ).request()
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="gatehouse", error="invalid_token", error_description="The token is expired."',
    )
  })

  it('answers a verification error as RFC 6750 whatever the format', async () => {
    const res = await appThrowing(new AuthError('token_missing', 'no token'), 'json').request()
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"')
  })

  const transient: [string, unknown, number][] = [
    ['the store', new StoreError('unavailable', 'take', 'ECONNRESET on 10.0.0.7'), 1],
    ['an upstream', new UpstreamError('origin_circuit_open', 'the origin is down', 12.2), 13],
    ['the key set', new AuthError('jwks_unavailable', 'the key set cannot be fetched'), 5],
    ['an OAuth endpoint', new OAuthError('temporarily_unavailable', 'Try again later.'), 1],
  ]
  for (const [what, err, seconds] of transient) {
    it(`answers a transient failure of ${what} with 503 and Retry-After`, async () => {
      const { logs, request } = appThrowing(err)
      const res = await request()
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe(String(seconds))
      const text = await res.text()
      expect(text).not.toContain('ECONNRESET')
      expect(JSON.stringify(logs)).not.toContain('10.0.0.7')
    })
  }

  it('renders the login error page in html format, with Retry-After when limited', async () => {
    const res = await appThrowing(new LoginError('rate_limited', 42), 'html').request()
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toBe('42')
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(await res.text()).toContain('Too many sign-in attempts.')
  })

  it('answers anything else with a generic 500 and logs its name, never its message', async () => {
    const { logs, request } = appThrowing(new RangeError('bad input: hunter2'))
    const res = await request()
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({
      error: 'server_error',
      error_description: 'an internal error occurred',
    })
    expect(logs).toContainEqual(expect.objectContaining({ errorName: 'RangeError' }))
    expect(JSON.stringify(logs)).not.toContain('hunter2')
  })

  it('never sends a configuration problem to a client', async () => {
    const res = await appThrowing(
      new ConfigError([{ field: 'GATEHOUSE_AUDIENCE', message: 'is required' }]),
    ).request()
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(text).not.toContain('GATEHOUSE_AUDIENCE')
    expect(JSON.parse(text)).toEqual({
      error: 'server_error',
      error_description: 'the service is misconfigured',
    })
  })
})
