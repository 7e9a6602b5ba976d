/**
 * The back-channel endpoints: /token (RFC 6749 §3.2), /revoke (RFC 7009), /introspect (RFC 7662) and
 * /userinfo (OIDC Core §5.3). Form bodies are read strictly (form.ts), the client is authenticated
 * (clients.ts), and every response is `no-store`. Failures are thrown and rendered by the app's
 * `onError` (error-response.ts): RFC 6749 §5.2 bodies here, RFC 6750 challenges at /userinfo.
 */
import { Hono, type Context } from 'hono'
import { AuthError } from '../../core/errors.ts'
import { ENDPOINTS, endpointUrl } from '../../core/oauth/endpoints.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { exchangeToken, type TokenResponse } from '../../core/oauth/token-endpoint.ts'
import { introspectToken, revokeToken } from '../../core/oauth/token-management.ts'
import { userInfo } from '../../core/oauth/userinfo.ts'
import type { ClientConfig } from '../../core/oauth/config.ts'
import type { ErrorFormat, GatehouseEnv } from '../types.ts'
import { clientCredentialsFrom } from './client-auth.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { corsHeaders, jsonResponse, noStore, preflightResponse } from './responses.ts'

type ClientHandler = (
  form: URLSearchParams,
  client: ClientConfig,
  request: Request,
  /** `no-store` (RFC 6749 §5.1) and the client's CORS: the headers of a successful answer. */
  headers: Record<string, string>,
) => Promise<Response>

/**
 * A successful answer's headers: never cached (RFC 6749 §5.1), and CORS per client: the page's origin
 * must be one the authenticated client registered, not merely some client's (a preflight cannot know
 * the client, so it uses the union). A plain record, so no `Headers` object is built per request.
 */
function successHeaders(client: ClientConfig, origin: string | null): Record<string, string> {
  const headers: Record<string, string> = {
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    Vary: 'Origin',
  }
  if (origin !== null && client.allowedOrigins.includes(origin)) {
    headers['Access-Control-Allow-Origin'] = origin
    headers['Access-Control-Expose-Headers'] = 'WWW-Authenticate, DPoP-Nonce'
  }
  return headers
}

/**
 * The client the request authenticates as (RFC 6749 §2.3.1), and the headers of its successful answer
 * (`successHeaders`): what /token, /revoke and /introspect do first.
 *
 * @example const { client, headers } = await authenticatedClient(deps, form, { authorization, origin })
 */
async function authenticatedClient(
  deps: OAuthRouteDeps,
  form: URLSearchParams,
  request: { authorization: string | null; origin: string | null },
): Promise<{ client: ClientConfig; headers: Record<string, string> }> {
  const client = await deps.oauth.clients.authenticate(
    clientCredentialsFrom(request.authorization, form),
  )
  return { client, headers: successHeaders(client, request.origin) }
}

/** What a /token request carries besides its form (header values: null when absent). */
export interface TokenRequestHeaders {
  authorization: string | null
  origin: string | null
  /** The `DPoP` header (RFC 9449 §4.1). */
  dpop: string | null
  /** The URL the request arrived at, which a DPoP proof's `htu` may name; needed with a proof only. */
  url?: string
}

/**
 * /token once the form is read (RFC 6749 §3.2): the client authenticated (RFC 6749 §2.3.1), the grant
 * validated and executed (token-endpoint.ts), a fresh DPoP nonce for clients that use them
 * (RFC 9449 §8.2), the grant counted. Throws what the app's `onError` renders. The route below and
 * the Node origin's /token path (src/entry/node-token-fast-path.ts) both answer through it.
 *
 * @example const { body, headers } = await answerTokenRequest(deps, form, { authorization, origin, dpop: null })
 */
export async function answerTokenRequest(
  deps: OAuthRouteDeps,
  form: URLSearchParams,
  request: TokenRequestHeaders,
): Promise<{ body: TokenResponse; headers: Record<string, string> }> {
  const { oauth } = deps
  const { client, headers } = await authenticatedClient(deps, form, request)
  const dpop =
    request.url === undefined
      ? { proof: request.dpop }
      : { proof: request.dpop, requestUrl: request.url }
  const body = await exchangeToken(oauth, form, client, dpop)
  // RFC 9449 §8.2: a fresh nonce with every answer, so the next request has one ready.
  if (client.dpopNonce) headers['DPoP-Nonce'] = await oauth.dpop.nonces.current()
  deps.metrics?.tokenIssued(form.get('grant_type') ?? 'unknown')
  return { body, headers }
}

export function tokenRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const { oauth, logger } = deps
  const app = new Hono<GatehouseEnv>()

  // How errors are rendered, in one middleware layer: an error answer carries CORS for any
  // registered origin (the client may not be known yet), so a browser can read why it failed; a
  // success carries the authenticated client's own (successHeaders).
  const endpoint =
    (format: ErrorFormat) =>
    async (c: Context<GatehouseEnv>, next: () => Promise<void>): Promise<void> => {
      c.set('errorFormat', format)
      await next()
      if (c.error) corsHeaders(oauth, c.req.raw, c.res.headers)
    }
  for (const path of [ENDPOINTS.token, ENDPOINTS.revoke, ENDPOINTS.introspect])
    app.use(`${base}${path}`, endpoint('json'))
  app.use(`${base}${ENDPOINTS.userinfo}`, endpoint('bearer'))

  /** Reads the form, authenticates the client, runs `handle`. */
  const withClient =
    (handle: ClientHandler) =>
    async (c: { req: { raw: Request } }): Promise<Response> => {
      const request = c.req.raw
      const form = await readForm(request)
      const { client, headers } = await authenticatedClient(deps, form, {
        authorization: request.headers.get('authorization'),
        origin: request.headers.get('origin'),
      })
      return handle(form, client, request, headers)
    }

  app.post(`${base}${ENDPOINTS.token}`, async (c) => {
    const request = c.req.raw
    const form = await readForm(request)
    const dpop = request.headers.get('DPoP')
    const { body, headers } = await answerTokenRequest(deps, form, {
      authorization: request.headers.get('authorization'),
      origin: request.headers.get('origin'),
      dpop,
      ...(dpop === null ? {} : { url: request.url }),
    })
    return jsonResponse(body, 200, headers)
  })
  app.post(
    `${base}${ENDPOINTS.revoke}`,
    withClient(async (form, client, _request, headers) => {
      const result = await revokeToken(oauth, form, client)
      // Answered like an unknown token (token-management.ts says why); operators see it here.
      if (result === 'foreign')
        logger?.log({
          level: 'warn',
          msg: 'revoke refused: token of another client',
          clientId: client.id,
        })
      // RFC 7009 §2.2: 200 whether or not the token was known.
      return new Response(null, { status: 200, headers })
    }),
  )
  app.post(
    `${base}${ENDPOINTS.introspect}`,
    withClient(async (form, client, _request, headers) =>
      jsonResponse(await introspectToken(oauth, form, client), 200, headers),
    ),
  )

  const userinfo = async (c: { req: { raw: Request } }): Promise<Response> => {
    const request = c.req.raw
    const authorization = request.headers.get('authorization') ?? ''
    // RFC 6750 §3.1: a request without a token gets a bare challenge, no error code.
    if (authorization === '') throw new AuthError('token_missing', 'A bearer token is required.')
    const match = /^(Bearer|DPoP) +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization)
    if (!match) throw new OAuthError('invalid_request', 'The Authorization header is malformed.')
    // RFC 9449 §7.1: the proof names this endpoint as discovery publishes it, or as it was reached.
    const dpop =
      match[1]!.toLowerCase() === 'dpop'
        ? {
            headers: request.headers,
            target: {
              method: request.method,
              uris: [endpointUrl(oauth.issuer, ENDPOINTS.userinfo), request.url],
            },
          }
        : undefined
    return jsonResponse(
      await userInfo(oauth, match[2], dpop),
      200,
      corsHeaders(oauth, request, noStore()),
    )
  }
  app.get(`${base}${ENDPOINTS.userinfo}`, userinfo)
  app.post(`${base}${ENDPOINTS.userinfo}`, userinfo)

  for (const path of [ENDPOINTS.token, ENDPOINTS.revoke, ENDPOINTS.introspect])
    app.options(`${base}${path}`, (c) => preflightResponse(oauth, c.req.raw, 'POST'))
  app.options(`${base}${ENDPOINTS.userinfo}`, (c) =>
    preflightResponse(oauth, c.req.raw, 'GET, POST'),
  )
  return app
}
