/** `requireAuth` as a Worker author uses it: imported from the package, in a plain Hono app. */
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { buildVerifier, createDpopGuard, requireAuth } from '../../../src/middleware.ts'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../../fixtures/keys.ts'

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } })

// A plain `new Hono()`: `c.get('auth')` is typed by the module's ContextVariableMap augmentation
// (`npm run typecheck` fails here if it were `unknown`).
function appWith(middleware: ReturnType<typeof requireAuth>) {
  const app = new Hono()
  app.use('/orders/*', middleware)
  app.get('/orders/mine', (c) => {
    const owner: string = c.get('auth').claims.sub
    return c.json({ owner })
  })
  return app
}

describe('requireAuth', () => {
  it('mounts with { issuer, audience, jwks, scopes } and exposes c.get("auth")', async () => {
    const app = appWith(
      requireAuth({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwks: publicJwks(),
        scopes: ['orders:read'],
      }),
    )
    const ok = await app.request(
      '/orders/mine',
      bearer(await signTestToken({ scope: 'orders:read' })),
    )
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ owner: 'user-1' })

    const noScope = await app.request('/orders/mine', bearer(await signTestToken({ scope: 'x' })))
    expect(noScope.status).toBe(403)
    expect(noScope.headers.get('WWW-Authenticate')).toContain('error="insufficient_scope"')
    expect(noScope.headers.get('WWW-Authenticate')).toContain('scope="orders:read"')

    const missing = await app.request('/orders/mine')
    expect(missing.status).toBe(401)
    expect(missing.headers.get('WWW-Authenticate')).toBe('Bearer realm="gatehouse"')
  })

  it('mounts with { issuer, audience, jwksUrl } and an injected fetch, fetched lazily', async () => {
    let fetches = 0
    const middleware = requireAuth({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwksUrl: 'https://issuer.test/jwks',
      fetch: async () => {
        fetches++
        return Response.json(publicJwks())
      },
    })
    expect(fetches).toBe(0)
    const app = appWith(middleware)
    const token = await signTestToken()
    expect((await app.request('/orders/mine', bearer(token))).status).toBe(200)
    expect((await app.request('/orders/mine', bearer(token))).status).toBe(200)
    expect(fetches).toBe(1)
  })

  it('takes a ready verifier and an extra audience check', async () => {
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
    })
    const app = appWith(requireAuth({ verifier, audience: 'https://orders.test', realm: 'orders' }))
    const both = await signTestToken({ aud: [TEST_AUDIENCE, 'https://orders.test'] })
    expect((await app.request('/orders/mine', bearer(both))).status).toBe(200)
    const res = await app.request('/orders/mine', bearer(await signTestToken()))
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toMatch(
      /^Bearer realm="orders", error="invalid_token"/,
    )
  })

  it('lets non-auth failures reach the host app onError', async () => {
    const app = appWith(
      requireAuth({
        verifier: {
          verify: async () => {
            throw new Error('database down')
          },
        },
      }),
    )
    app.onError((_err, c) => c.text('host handled', 500))
    const res = await app.request('/orders/mine', bearer(await signTestToken()))
    expect(await res.text()).toBe('host handled')
  })

  const badOptions: [string, unknown, RegExp][] = [
    ['no key source', { issuer: TEST_ISSUER, audience: TEST_AUDIENCE }, /requireAuth: /],
    [
      'a bad scope',
      { verifier: { verify: async () => ({}) }, scopes: ['ok', 'a b'] },
      /scopes: \[1\] is not an RFC 6749 §3\.3 scope-token/,
    ],
    ['a non-verifier', { verifier: {} }, /verifier/],
    ['a bad jwksUrl', { issuer: 'i', audience: 'a', jwksUrl: 'ftp://x' }, /jwksUrl/],
    ['a plain-http jwksUrl', { issuer: 'i', audience: 'a', jwksUrl: 'http://i.test/k' }, /https/],
    [
      'two key sources',
      { issuer: 'i', audience: 'a', jwks: publicJwks(), jwksUrl: 'https://i' },
      /exactly one/,
    ],
    [
      'a misspelled option (named, not read as a missing one)',
      { issuer: 'i', audiance: 'a', jwks: publicJwks() },
      /^requireAuth: audiance: is not a known option \(did you mean "audience"\?\)$/,
    ],
  ]
  for (const [name, options, message] of badOptions) {
    it(`throws at construction for ${name}`, () => {
      expect(() => requireAuth(options as Parameters<typeof requireAuth>[0])).toThrow(message)
    })
  }

  const construct = (options: unknown) => () =>
    requireAuth(options as Parameters<typeof requireAuth>[0])

  it('names a misspelled option with a hint, not as a missing one', () => {
    const options = { issuer: 'https://i.test', audiance: 'https://a.test', jwksUrl: 'https://i' }
    expect(construct(options)).toThrow(
      new TypeError('requireAuth: audiance: is not a known option (did you mean "audience"?)'),
    )
    expect(construct({ verifier: { verify: async () => ({}) }, scope: ['read'] })).toThrow(
      'scope: is not a known option (did you mean "scopes"?)',
    )
    expect(construct({ verifier: { verify: async () => ({}) }, color: 'blue' })).toThrow(
      new TypeError('requireAuth: color: is not a known option'),
    )
  })

  it('refuses an option the chosen key source does not use, and reports every problem at once', () => {
    expect(construct({ verifier: { verify: async () => ({}) }, issuer: 'https://i.test' })).toThrow(
      'issuer: is not used with verifier',
    )
    expect(
      construct({
        issuer: '',
        audience: 'https://a.test',
        jwks: { keys: [] },
        clockLeewaySeconds: 600,
        realm: 'a"b',
      }),
    ).toThrow(
      new TypeError(
        'requireAuth: issuer: must be a non-empty string; jwks: must be { keys: [...] } with at ' +
          'least one JWK; clockLeewaySeconds: must be an integer from 0 to 60; realm: must be ' +
          '1–100 printable ASCII characters without " or \\',
      ),
    )
    expect(construct(null)).toThrow('requireAuth: options must be an object')
  })

  it('takes a DPoP guard with every key source, and refuses anything else as one', () => {
    const dpop = createDpopGuard({})
    const jwks = { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwks: publicJwks() }
    expect(construct({ ...jwks, dpop })).not.toThrow()
    expect(construct({ verifier: { verify: async () => ({}) }, dpop })).not.toThrow()
    expect(
      construct({ issuer: 'i', audience: 'a', jwksUrl: 'https://i.test/k', dpop }),
    ).not.toThrow()
    expect(construct({ ...jwks, dpop: { checker: {} } })).toThrow(
      new TypeError('requireAuth: dpop: must come from createDpopGuard'),
    )
  })

  it('ignores options given as undefined, as an object spread of optional settings would', () => {
    const options = { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwks: publicJwks() }
    expect(construct({ ...options, jwksUrl: undefined, scopes: undefined })).not.toThrow()
  })
})
