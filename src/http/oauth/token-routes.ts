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
import { exchangeToken } from '../../core/oauth/token-endpoint.ts'
import { introspectToken, revokeToken } from '../../core/oauth/token-management.ts'
import { userInfo } from '../../core/oauth/userinfo.ts'
import type { ClientConfig } from '../../core/oauth/config.ts'
import type { GatehouseEnv } from '../types.ts'
import { clientCredentialsFrom } from './client-auth.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { readForm } from './form.ts'
import { errorFormat } from '../error-response.ts'
import { corsHeaders, jsonResponse, noStore, preflightResponse } from './responses.ts'

type ClientHandler = (
  form: URLSearchParams,
  client: ClientConfig,
  request: Request,
) => Promise<Response>

/**
 * CORS on a successful answer is per client: the page's origin must be one the authenticated client
 * registered, not merely some client's (a preflight cannot know the client, so it uses the union).
 */
function clientCorsHeaders(client: ClientConfig, request: Request, headers: Headers): void {
  const origin = request.headers.get('origin')
  headers.append('Vary', 'Origin')
  if (origin !== null && client.allowedOrigins.includes(origin)) {
    headers.set('Access-Control-Allow-Origin', origin)
    headers.set('Access-Control-Expose-Headers', 'WWW-Authenticate, DPoP-Nonce')
  }
}

export function tokenRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const { oauth, logger } = deps
  const app = new Hono<GatehouseEnv>()

  // An error answer carries CORS for any registered origin (the client may not be known yet), so a
  // browser can read why it failed; a success carries the authenticated client's own (below).
  const corsOnError = async (c: Context<GatehouseEnv>, next: () => Promise<void>) => {
    await next()
    if (c.error) corsHeaders(oauth, c.req.raw, c.res.headers)
  }
  for (const path of [ENDPOINTS.token, ENDPOINTS.revoke, ENDPOINTS.introspect])
    app.use(`${base}${path}`, errorFormat('json'), corsOnError)
  app.use(`${base}${ENDPOINTS.userinfo}`, errorFormat('bearer'), corsOnError)

  /** Reads the form, authenticates the client, runs `handle`. */
  const withClient =
    (handle: ClientHandler) =>
    async (c: { req: { raw: Request } }): Promise<Response> => {
      const request = c.req.raw
      const form = await readForm(request)
      const client = await oauth.clients.authenticate(clientCredentialsFrom(request.headers, form))
      const response = await handle(form, client, request)
      clientCorsHeaders(client, request, response.headers)
      return response
    }

  app.post(
    `${base}${ENDPOINTS.token}`,
    withClient(async (form, client, request) => {
      const dpop = { proof: request.headers.get('DPoP'), requestUrl: request.url }
      const response = jsonResponse(await exchangeToken(oauth, form, client, dpop), 200)
      // RFC 9449 §8.2: a fresh nonce with every answer, so the next request has one ready.
      if (client.dpopNonce) response.headers.set('DPoP-Nonce', await oauth.dpop.nonces.current())
      deps.metrics?.tokenIssued(form.get('grant_type') ?? 'unknown')
      return response
    }),
  )
  app.post(
    `${base}${ENDPOINTS.revoke}`,
    withClient(async (form, client) => {
      const result = await revokeToken(oauth, form, client)
      // Answered like an unknown token (token-management.ts says why); operators see it here.
      if (result === 'foreign')
        logger?.log({
          level: 'warn',
          msg: 'revoke refused: token of another client',
          clientId: client.id,
        })
      // RFC 7009 §2.2: 200 whether or not the token was known.
      return new Response(null, { status: 200, headers: noStore() })
    }),
  )
  app.post(
    `${base}${ENDPOINTS.introspect}`,
    withClient(async (form, client) =>
      jsonResponse(await introspectToken(oauth, form, client), 200),
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
