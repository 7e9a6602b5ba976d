/**
 * The Node origin's path for the common `/token` request: a `client_credentials` POST with a plain
 * form body and no DPoP proof, answered from Node's own request and response objects, without the
 * `Request`, Hono context, routing and `Response` that `@hono/node-server` and the app build for every
 * request (issue 15: ~30 µs of CPU of a ~105 µs /token).
 *
 * Nothing is checked differently: the form is parsed by the route's own `parseFormBytes`, and the
 * client, the grant and the token are handled by the route's own `answerTokenRequest` (client
 * authentication, validation, minting, nonce, grant metric). What the app does around a route is done
 * here the same way: the request id (`saneRequestId`), `beforeRequest` (the revocation sync's kick),
 * the `X-Request-Id` header, `no-store` and CORS headers, the request metric with the route's pattern
 * as its label, the access log line.
 *
 * Anything else goes to the app untouched: other paths and methods, a `Content-Type` other than
 * exactly `application/x-www-form-urlencoded`, no or a large `Content-Length`, chunked bodies, a
 * `DPoP` or `Upgrade` header, repeated header names, other grants (a code or refresh token must be
 * spent once, so those are never tried twice). And a request this path cannot answer with a success —
 * a malformed form, a wrong secret, a refused scope, a failed signature — is handed to the app with
 * the body already read (`rawBody`, which `@hono/node-server` reads as the body), so every refusal
 * is rendered, counted and logged by the one `onError`. Trying a client_credentials request twice is
 * safe: until the token is written nothing in it has an effect (no store write, no counter).
 *
 * @example
 * const fast = createTokenFastPath({ deps, path: '/token', logger })
 * serve({ fetch: app.fetch, createServer: (options, listener) => createServer(options, (req, res) => fast(req, res, listener)) })
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { Hono } from 'hono'
import type { NodeFastPath } from './node-fast-path.ts'
import type { OAuthRouteDeps } from '../http/oauth/deps.ts'
import { MAX_FORM_BYTES, parseFormBytes } from '../http/oauth/form.ts'
import { answerTokenRequest } from '../http/oauth/token-routes.ts'
import type { Logger } from '../http/log.ts'
import { saneRequestId, writeAccessLog } from '../http/request-log.ts'
import type { GatehouseEnv, RequestHooks } from '../http/types.ts'

export interface TokenFastPathOptions {
  deps: OAuthRouteDeps
  /** The token endpoint's path (the issuer's path + `/token`), the same as the app's route pattern. */
  path: string
  logger: Logger
  /** What the app's request hooks run before a route (node-server.ts: the revocation sync's kick). */
  beforeRequest?: () => void
  /** The app's `after` hook (the request metric). */
  after?: RequestHooks['after']
}

/** A request the path answers itself: its id, start time and header values. */
interface Taken {
  id: string
  start: number
  authorization: string | null
  origin: string | null
}

/** A Node request whose body was read here: `@hono/node-server` takes `rawBody` as the body. */
type ReadIncoming = IncomingMessage & { rawBody?: Buffer }

const FORM_TYPE = 'application/x-www-form-urlencoded'
const DECIMAL = /^\d{1,5}$/

/**
 * Builds the request listener wrapper: `(incoming, outgoing, app)` answers a request it takes and
 * hands every other to `app` (the listener `@hono/node-server` made for the app).
 *
 * @example server.on('request', (req, res) => fast(req, res, appListener))
 */
export function createTokenFastPath(options: TokenFastPathOptions): NodeFastPath {
  const { deps, path, logger, beforeRequest, after } = options

  /** The header values of a request this path takes, or undefined to leave it to the app. */
  function take(incoming: IncomingMessage): Taken | undefined {
    if (incoming.url !== path || incoming.method !== 'POST') return undefined
    const headers = incoming.headers
    const length = headers['content-length']
    if (
      headers['content-type'] !== FORM_TYPE ||
      length === undefined ||
      !DECIMAL.test(length) ||
      Number(length) > MAX_FORM_BYTES ||
      headers['transfer-encoding'] !== undefined ||
      headers['dpop'] !== undefined ||
      headers['upgrade'] !== undefined ||
      // Node keeps one of some repeated headers and joins others; the app sees them all.
      incoming.rawHeaders.length !== 2 * Object.keys(headers).length
    )
      return undefined
    return {
      id: saneRequestId(headers['x-request-id']),
      start: performance.now(),
      authorization: headers['authorization'] ?? null,
      origin: typeof headers['origin'] === 'string' ? headers['origin'] : null,
    }
  }

  function answer(
    taken: Taken,
    body: Buffer,
    incoming: ReadIncoming,
    outgoing: ServerResponse,
    app: RequestListener,
  ): void {
    const toApp = () => {
      incoming.rawBody = body
      app(incoming, outgoing)
    }
    let form: URLSearchParams
    try {
      form = parseFormBytes(body)
    } catch {
      return toApp()
    }
    if (form.get('grant_type') !== 'client_credentials') return toApp()
    answerTokenRequest(deps, form, {
      authorization: taken.authorization,
      origin: taken.origin,
      dpop: null,
    }).then(({ body: token, headers }) => {
      const json = JSON.stringify(token)
      headers['Content-Type'] = 'application/json'
      headers['Content-Length'] = String(Buffer.byteLength(json))
      try {
        outgoing.setHeader('X-Request-Id', taken.id)
        outgoing.writeHead(200, headers).end(json)
      } catch {
        // Not written (a header Node refuses): the app answers, and says why.
        if (!outgoing.headersSent) return toApp()
        return void outgoing.destroy()
      }
      const end = performance.now()
      after?.({ method: 'POST', route: path, status: 200 }, (end - taken.start) / 1000)
      writeAccessLog(logger, taken.id, 'POST', path, 200, end - taken.start, undefined)
    }, toApp)
  }

  return (incoming, outgoing, app) => {
    const taken = take(incoming)
    if (taken === undefined) return app(incoming, outgoing)
    beforeRequest?.()
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A client that goes away mid-body: nothing to answer (Node's parser refusals answer a broken
    // framing, node-http.ts); the error is taken here so it is not an unhandled 'error' event.
    incoming.on('error', () => {})
    incoming.on('end', () => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
      answer(taken, body, incoming, outgoing, app)
    })
  }
}

/**
 * The wrapper for `app`, or undefined when the app would not answer `POST <path>` with the token
 * route alone: the route's error layer and its handler, under that very pattern. Another middleware
 * on the path (tracing, tenancy, anything added later) turns this path off rather than being skipped.
 *
 * @example const fast = tokenFastPathFor(app, { deps, path: '/token', logger })
 */
export function tokenFastPathFor(
  app: Hono<GatehouseEnv>,
  options: TokenFastPathOptions,
): NodeFastPath | undefined {
  const [handlers] = app.router.match('POST', options.path)
  const route = handlers[handlers.length - 1]?.[0][1].path
  if (handlers.length !== 2 || route !== options.path) return undefined
  return createTokenFastPath(options)
}
