/**
 * `GET|POST /verify`: token introspection for services that cannot verify locally. 200 with
 * `{ "active": true, ...claims }`, or an RFC 6750 error via the app's `onError`.
 */
import { Hono, type Context } from 'hono'
import { AuthError } from '../core/errors.ts'
import type { VerifiedToken } from '../core/types.ts'
import { authenticateNow } from './authenticate.ts'
import type { DpopTarget } from '../core/dpop-binding.ts'
import { dpopNonceFor, type DpopGuard } from './dpop-guard.ts'
import { verificationRequestOf } from './verification-request.ts'
import type { GatehouseEnv, TokenVerifier } from './types.ts'
import { requestHeader } from './request-headers.ts'
import { setErrorCode } from './request-record.ts'

/** The headers of an active answer (also written by the Node origin's /verify path, node-verify-fast-path.ts). */
export const RESPONSE_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }
/**
 * A plain header object, not a `Headers`: @hono/node-server writes it as it is (Hono's `c.body` with
 * two headers builds a `Headers`, which the Node adapter then walks again to write it).
 */
const ACTIVE = { status: 200, headers: RESPONSE_HEADERS }

// An L1 hit returns the same frozen claims object every time (src/cache/token-cache.ts), so its JSON
// is built once per cached token rather than once per request: on a cache hit serialising a dozen
// claims was the largest cost left in the route. Weak keys: an evicted entry takes its text with it.
const bodies = new WeakMap<object, string>()

/**
 * The body of an active answer for `claims`: built once per cached token (above). Exported for the
 * Node origin's /verify path (node-verify-fast-path.ts), which answers with the same text.
 *
 * @example const body = responseBody(verified.claims) // '{"active":true,"sub":"…",…}'
 */
export function responseBody(claims: object): string {
  let body = bodies.get(claims)
  if (body === undefined) {
    const json: Record<string, unknown> = { active: true, ...claims }
    json.active = true // a custom claim named `active` must not override ours
    body = JSON.stringify(json)
    if (Object.isFrozen(claims)) bodies.set(claims, body)
  }
  return body
}

/**
 * `{"active":true, ...claims}`, with the current `DPoP-Nonce` for a DPoP-bound token when nonces
 * are on (RFC 9449 §9: for the service to pass on to its caller).
 */
function activeResponse(
  verified: VerifiedToken,
  dpop: DpopGuard | undefined,
): Response | Promise<Response> {
  const body = responseBody(verified.claims)
  const nonce = dpopNonceFor(dpop, verified)
  if (nonce === undefined) return new Response(body, ACTIVE)
  return nonce.then(
    (value) =>
      new Response(body, { status: 200, headers: { ...RESPONSE_HEADERS, 'DPoP-Nonce': value } }),
  )
}

/**
 * The request a DPoP proof presented to `/verify` was made for (RFC 9449 `htm`, `htu`). A service that
 * checks its caller's token here forwards the caller's `Authorization` and `DPoP` headers and names
 * the caller's request in `X-Original-Method` and `X-Original-URL` (absolute), the headers
 * ingress-nginx's external authentication sends. Without them the proof must be for `/verify` itself.
 */
function proofTarget(request: Request): DpopTarget | undefined {
  const method = requestHeader(request, 'x-original-method')
  const uri = requestHeader(request, 'x-original-url')
  if (method === null && uri === null) return undefined
  if (method === null || uri === null || !URL.canParse(uri))
    throw new AuthError(
      'request_malformed',
      'X-Original-Method and X-Original-URL (absolute) go together',
    )
  return { method, uris: [uri] }
}

/**
 * The /verify route group. POST also accepts a form-encoded `access_token` (RFC 6750 §2.2); the query
 * string never (RFC 9700 §4.3.2). A DPoP-bound token needs `Authorization: DPoP` and its proof
 * (RFC 9449 §7). The claims are the caller's identity, so `Cache-Control: no-store` keeps them out of
 * shared caches (RFC 6749 §5.1 does the same for token responses).
 *
 * @example app.route('/', verifyRoutes(verifier, dpop))
 */
export function verifyRoutes(verifier: TokenVerifier, dpop?: DpopGuard): Hono<GatehouseEnv> {
  const app = new Hono<GatehouseEnv>()
  const handler = verifyHandler(verifier, dpop)
  routeDeps.set(handler, { verifier, ...(dpop === undefined ? {} : { dpop }) })
  app.all('/verify', handler)
  return app
}

/** What a /verify route handler answers with: its verifier and DPoP guard. */
export interface VerifyRouteDeps {
  verifier: TokenVerifier
  dpop?: DpopGuard
}

/** Each handler `verifyRoutes` made, with what it answers with (weak: a dropped app takes it along). */
const routeDeps = new WeakMap<object, VerifyRouteDeps>()

/**
 * The verifier and DPoP guard of a /verify route handler (what Hono's router matched), or undefined
 * for any other handler: lets the Node origin's /verify path (node-verify-fast-path.ts) answer with
 * exactly the route's own verifier, and only when the route alone would answer.
 *
 * @example const deps = verifyRouteDepsOf(app.router.match('GET', '/verify')[0][0]?.[0][0])
 */
export function verifyRouteDepsOf(handler: unknown): VerifyRouteDeps | undefined {
  return typeof handler === 'function' ? routeDeps.get(handler) : undefined
}

function verifyHandler(verifier: TokenVerifier, dpop: DpopGuard | undefined) {
  // One handler for every method, so Hono calls it directly (a second route on the path, the 405,
  // would put every request through its composed chain), and not `async`: on an L1 hit
  // (`authenticateNow` answers at once) the response is returned as it is, which Hono and
  // @hono/node-server pass on and write without a promise turn (issue 15).
  return (c: Context<GatehouseEnv>): Response | Promise<Response> => {
    const request = c.req.raw
    const method = request.method
    // HEAD is answered as GET is (Hono dispatches it as GET and drops the body).
    if (method !== 'GET' && method !== 'POST' && method !== 'HEAD') {
      setErrorCode(c, 'method_not_allowed')
      return c.json({ error: 'invalid_request', error_description: 'use GET or POST' }, 405, {
        Allow: 'GET, POST',
        'Cache-Control': 'no-store',
      })
    }
    const target = proofTarget(request)
    const verified = authenticateNow(request, verifier, {
      allowFormBody: method === 'POST',
      verification: verificationRequestOf(c),
      ...(dpop === undefined ? {} : { dpop }),
      ...(target === undefined ? {} : { dpopTarget: target }),
    })
    return verified instanceof Promise
      ? verified.then((v) => activeResponse(v, dpop))
      : activeResponse(verified, dpop)
  }
}
