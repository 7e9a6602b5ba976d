/**
 * The peers' server process for `npm run bench:http`: one minimal Hono app on `@hono/node-server`
 * with one route per peer verifier, each checking the same ES256 token the same way Gatehouse's
 * `/verify` does (signature, `iss`, `aud`, `exp`; `typ` where the library can) and answering
 * `{"active":true, ...claims}` or 401:
 *
 *   GET /noop             bare Hono, no middleware: the floor of this server
 *   GET /hono-jwk         `hono/jwk` middleware with inline `keys` (Hono's own JWT code, verify every request)
 *   GET /jose             `jose.jwtVerify` with `createLocalJWKSet` on every request (no result cache)
 *   GET /fast-jwt         fast-jwt `createVerifier`, no cache
 *   GET /fast-jwt-cache   fast-jwt `createVerifier({ cache: true })` (SHA-256-keyed LRU, 1,000 entries)
 *   ANY /proxy/*          `hono/proxy` forward of the rest of the path to UPSTREAM_URL, no verification:
 *                         the floor for the gateway row (a second HTTP exchange and nothing else)
 *
 * Prints one JSON line `{"listening":<port>}` when ready.
 */
import { createPublicKey } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createVerifier } from 'fast-jwt'
import { Hono, type Context } from 'hono'
import { jwk } from 'hono/jwk'
import { proxy } from 'hono/proxy'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { publicJwk, TEST_AUDIENCE, TEST_ISSUER } from '../../test/fixtures/keys.ts'

const key = publicJwk('ES256')
const pem = createPublicKey({ key: key as never, format: 'jwk' }).export({
  type: 'spki',
  format: 'pem',
}) as string
const localJwks = createLocalJWKSet({ keys: [key] })
const fastJwtOptions = {
  key: pem,
  algorithms: ['ES256' as const],
  allowedIss: TEST_ISSUER,
  allowedAud: TEST_AUDIENCE,
  checkTyp: 'at+jwt',
}
const fastJwt = createVerifier(fastJwtOptions)
const fastJwtCached = createVerifier({ ...fastJwtOptions, cache: true })

const bearer = (c: Context): string => {
  const header = c.req.header('Authorization') ?? ''
  return header.startsWith('Bearer ') ? header.slice(7) : ''
}
const unauthorized = (c: Context) => c.json({ error: 'invalid_token' }, 401)

const app = new Hono<{ Variables: { jwtPayload: Record<string, unknown> } }>()
app.get('/noop', (c) => c.text('ok'))
app.get(
  '/hono-jwk',
  jwk({
    keys: [key as never],
    alg: ['ES256'],
    verification: { iss: TEST_ISSUER, aud: TEST_AUDIENCE, typ: 'at+jwt' },
  }),
  (c) => c.json({ active: true, ...c.get('jwtPayload') }),
)
app.get('/jose', async (c) => {
  try {
    const { payload } = await jwtVerify(bearer(c), localJwks, {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      algorithms: ['ES256'],
      typ: 'at+jwt',
    })
    return c.json({ active: true, ...payload })
  } catch {
    return unauthorized(c)
  }
})
app.get('/fast-jwt', (c) => {
  try {
    return c.json({ active: true, ...(fastJwt(bearer(c)) as object) })
  } catch {
    return unauthorized(c)
  }
})
app.get('/fast-jwt-cache', (c) => {
  try {
    return c.json({ active: true, ...(fastJwtCached(bearer(c)) as object) })
  } catch {
    return unauthorized(c)
  }
})

const upstream = process.env.UPSTREAM_URL
if (upstream !== undefined) {
  app.all('/proxy/*', (c) =>
    proxy(new URL(c.req.path.slice('/proxy'.length), upstream), { raw: c.req.raw }),
  )
}

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(JSON.stringify({ listening: (info as AddressInfo).port }))
})
process.once('SIGTERM', () => server.close(() => process.exit(0)))
