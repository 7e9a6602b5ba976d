/**
 * `GET|POST /verify`: token introspection for services that cannot verify locally. 200 with
 * `{ "active": true, ...claims }`, or an RFC 6750 error via the app's `onError`.
 */
import { Hono } from 'hono'
import { authenticate } from './require-auth.ts'
import { verificationRequestOf } from './verification-request.ts'
import type { GatehouseEnv, TokenVerifier } from './types.ts'

/**
 * The /verify route group. POST also accepts a form-encoded `access_token` (RFC 6750 §2.2); the query
 * string never (RFC 9700 §4.3.2). The claims are the caller's identity, so `Cache-Control: no-store`
 * keeps them out of shared caches (RFC 6749 §5.1 does the same for token responses).
 *
 * @example app.route('/', verifyRoutes(verifier))
 */
const RESPONSE_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }

// An L1 hit returns the same frozen claims object every time (src/cache/token-cache.ts), so its JSON
// is built once per cached token rather than once per request: on a cache hit serialising a dozen
// claims was the largest cost left in the route. Weak keys: an evicted entry takes its text with it.
const bodies = new WeakMap<object, string>()

function responseBody(claims: object): string {
  let body = bodies.get(claims)
  if (body === undefined) {
    const json: Record<string, unknown> = { active: true, ...claims }
    json.active = true // a custom claim named `active` must not override ours
    body = JSON.stringify(json)
    if (Object.isFrozen(claims)) bodies.set(claims, body)
  }
  return body
}

export function verifyRoutes(verifier: TokenVerifier): Hono<GatehouseEnv> {
  const app = new Hono<GatehouseEnv>()
  app.on(['GET', 'POST'], '/verify', async (c) => {
    const { claims } = await authenticate(c.req.raw, verifier, {
      allowFormBody: c.req.method === 'POST',
      verification: verificationRequestOf(c),
    })
    return c.body(responseBody(claims), 200, RESPONSE_HEADERS)
  })
  app.all('/verify', (c) => {
    c.set('errorCode', 'method_not_allowed')
    return c.json({ error: 'invalid_request', error_description: 'use GET or POST' }, 405, {
      Allow: 'GET, POST',
      'Cache-Control': 'no-store',
    })
  })
  return app
}
