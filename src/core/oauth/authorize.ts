/**
 * Validation of an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, OIDC Core §3.1.2.1) and
 * the redirect back to the client (RFC 6749 §4.1.2, RFC 9207).
 *
 * Order matters: first `client_id` and `redirect_uri`. Until both are known good, an error must not be
 * redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11 open redirector) and is shown on our own page. The
 * redirect URI is compared as an exact string with the registered ones (RFC 9700 §2.1, §4.1.3). After
 * that, errors go back to the client with `error`, `state` and `iss`. Only `response_type=code` with
 * PKCE S256 is accepted, for every client (RFC 9700 §2.1.1, RFC 7636).
 *
 * @example
 * const outcome = validateAuthorizationRequest(new URL(c.req.url).searchParams, clients, issuer)
 * if (outcome.kind === 'ok') ... else if (outcome.kind === 'redirect') ... else renderErrorPage(...)
 */
import type { ClientRegistry } from './clients.ts'
import { OAuthError } from './errors.ts'
import { param, repeatedParams } from './params.ts'
import { isValidCodeChallenge } from './pkce.ts'
import { grantScope, resolveAudience } from './scope.ts'

export interface AuthorizationRequest {
  clientId: string
  redirectUri: string
  redirectUriExplicit: boolean
  /** Granted scope, space-delimited. */
  scope: string
  state?: string | undefined
  nonce?: string | undefined
  codeChallenge: string
  resource?: string | undefined
  prompt: string[]
  maxAge?: number | undefined
}

export type AuthorizeOutcome =
  | { kind: 'ok'; request: AuthorizationRequest }
  /** Safe to send back to the client's registered redirect URI. */
  | { kind: 'redirect'; redirectUri: string; state?: string | undefined; error: OAuthError }
  /** Unknown client or bad redirect URI: show our own error page (HTTP 400), never redirect. */
  | { kind: 'fatal'; description: string }

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account'])
const MAX_STATE = 2048

export function validateAuthorizationRequest(
  params: URLSearchParams,
  clients: ClientRegistry,
  issuer: string,
): AuthorizeOutcome {
  const repeated = repeatedParams(params)
  if (repeated.includes('client_id') || repeated.includes('redirect_uri'))
    return { kind: 'fatal', description: 'The client_id or redirect_uri parameter is repeated.' }
  const clientId = params.get('client_id') || undefined
  const client = clientId === undefined ? undefined : clients.get(clientId)
  if (!client) return { kind: 'fatal', description: 'The client is unknown or missing.' }
  const requestedRedirect = params.get('redirect_uri') || undefined
  // OAuth 2.1 §4.1.1: redirect_uri may be omitted only when exactly one is registered.
  const redirectUri =
    requestedRedirect ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined)
  if (redirectUri === undefined || !client.redirectUris.includes(redirectUri))
    return {
      kind: 'fatal',
      description: 'The redirect_uri is missing or not registered for this client.',
    }

  const rawState = params.getAll('state')
  const state =
    rawState.length === 1 && rawState[0] && rawState[0].length <= MAX_STATE
      ? rawState[0]
      : undefined
  const redirect = (error: OAuthError): AuthorizeOutcome => ({
    kind: 'redirect',
    redirectUri,
    state,
    error,
  })

  try {
    if (repeated.length > 0)
      throw new OAuthError('invalid_request', 'A request parameter is repeated.') // RFC 6749 §3.1
    if (rawState.length === 1 && rawState[0] && rawState[0].length > MAX_STATE)
      throw new OAuthError('invalid_request', 'The state parameter is too long.')
    if (params.has('request'))
      throw new OAuthError('request_not_supported', 'Request objects are not supported.')
    if (params.has('request_uri'))
      throw new OAuthError('request_uri_not_supported', 'request_uri is not supported.')
    const responseType = param(params, 'response_type')
    if (responseType === undefined)
      throw new OAuthError('invalid_request', 'The response_type parameter is required.')
    if (responseType !== 'code')
      throw new OAuthError('unsupported_response_type', 'Only response_type=code is supported.')
    if (!client.grantTypes.includes('authorization_code'))
      throw new OAuthError(
        'unauthorized_client',
        'This client may not use the authorization code grant.',
      )
    const responseMode = param(params, 'response_mode')
    if (responseMode !== undefined && responseMode !== 'query')
      throw new OAuthError('invalid_request', 'Only response_mode=query is supported.')
    // RFC 9700 §2.1.1 and OAuth 2.1: PKCE for every client, S256 only (RFC 7636 §4.2).
    const codeChallenge = param(params, 'code_challenge')
    if (codeChallenge === undefined)
      throw new OAuthError('invalid_request', 'code_challenge is required (PKCE with S256).')
    if (param(params, 'code_challenge_method') !== 'S256')
      throw new OAuthError('invalid_request', 'code_challenge_method must be S256.')
    if (!isValidCodeChallenge(codeChallenge))
      throw new OAuthError('invalid_request', 'The code_challenge is malformed.')
    const scope = grantScope(param(params, 'scope'), client)
    const resource = param(params, 'resource')
    if (resource !== undefined) resolveAudience(resource, client, issuer)
    const nonce = param(params, 'nonce', MAX_STATE)
    const promptValue = param(params, 'prompt')
    const prompt = promptValue === undefined ? [] : promptValue.split(' ')
    if (prompt.some((p) => !PROMPTS.has(p)) || (prompt.includes('none') && prompt.length > 1))
      throw new OAuthError('invalid_request', 'The prompt parameter is invalid.')
    const maxAgeValue = param(params, 'max_age')
    if (maxAgeValue !== undefined && !/^\d{1,9}$/.test(maxAgeValue))
      throw new OAuthError('invalid_request', 'The max_age parameter is invalid.')
    return {
      kind: 'ok',
      request: {
        clientId: client.id,
        redirectUri,
        redirectUriExplicit: requestedRedirect !== undefined,
        scope,
        state,
        nonce,
        codeChallenge,
        resource,
        prompt,
        maxAge: maxAgeValue === undefined ? undefined : Number(maxAgeValue),
      },
    }
  } catch (e) {
    if (e instanceof OAuthError) return redirect(e)
    throw e
  }
}

/**
 * The redirect back to the client: its registered URI (query kept) plus our parameters and `iss`
 * (RFC 9207 §2, so a client talking to several servers can detect mix-up attacks).
 *
 * @example authorizationResponseUrl(request.redirectUri, issuer, { code, state })
 */
export function authorizationResponseUrl(
  redirectUri: string,
  issuer: string,
  values: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(values))
    if (value !== undefined) url.searchParams.append(name, value)
  url.searchParams.append('iss', issuer)
  return url.href
}
