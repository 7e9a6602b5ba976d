/**
 * `GET|POST /verify`: token introspection for services that cannot verify locally. 200 with
 * `{ "active": true, ...claims }`, or an RFC 6750 error via the app's `onError`.
 */
import { Hono } from 'hono'
import { authenticate } from './require-auth.ts'
import type { GatehouseEnv, TokenVerifier } from './types.ts'

/**
 * The /verify route group. POST also accepts a form-encoded `access_token` (RFC 6750 §2.2); the query
 * string never (RFC 9700 §4.3.2). The claims are the caller's identity, so `Cache-Control: no-store`
 * keeps them out of shared caches (RFC 6749 §5.1 does the same for token responses).
 *
 * @example app.route('/', verifyRoutes(verifier))
 */
export function verifyRoutes(verifier: TokenVerifier): Hono<GatehouseEnv> {
  const app = new Hono<GatehouseEnv>()
  app.on(['GET', 'POST'], '/verify', async (c) => {
    const { claims } = await authenticate(c.req.raw, verifier, {
      allowFormBody: c.req.method === 'POST',
    })
    const body: Record<string, unknown> = { active: true, ...claims }
    body.active = true // a custom claim named `active` must not override ours
    return c.json(body, 200, { 'Cache-Control': 'no-store' })
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
