/**
 * `createGatehouseClient(options)`: sign-in for a single-page app against a Gatehouse issuer, with the
 * protocol done by oauth4webapi — authorization code + PKCE S256 (RFC 7636, RFC 9700 §2.1.1), the
 * callback checked for `state` (RFC 6749 §10.12) and `iss` (RFC 9207), the ID token's `nonce`, refresh
 * before expiry with rotation, revocation (RFC 7009) and RP-initiated logout.
 *
 * Where tokens live, and why (OAuth 2.0 for Browser-Based Applications, "Token Storage"; RFC 9700
 * §4.14): in memory only. Access and refresh tokens are never written to localStorage or
 * sessionStorage, where any script that ever runs on the origin (an XSS, a compromised dependency)
 * could copy them and use the refresh token from elsewhere for as long as the family lives. Held in
 * memory, they are reachable only while the page runs. Two consequences, both handled:
 * - Several tabs: the tabs share one set over a `BroadcastChannel`, and refresh under a Web Lock, so two
 *   tabs never spend the same refresh token (tab-sync.ts).
 * - Reload: a reloaded tab first asks the other open tabs; when there are none, it repeats the
 *   authorization request with `prompt=none` as a top-level redirect. The hosted login's session cookie
 *   (HttpOnly, SameSite=Lax, set by the issuer) makes the issuer answer at once with a new code, no
 *   page shown; when the session has ended the answer is `login_required` and the tab is signed out.
 *   A top-level redirect rather than a hidden iframe, because the login pages forbid framing
 *   (`frame-ancestors 'none'`) and browsers block third-party cookies in frames. Only a "was signed in"
 *   flag and the in-flight PKCE record are kept in sessionStorage; neither is a credential.
 *
 * @example
 * const auth = createGatehouseClient({
 *   issuer: 'https://auth.example.com', clientId: 'spa',
 *   redirectUri: 'https://app.example.com/callback', postLogoutRedirectUri: 'https://app.example.com/',
 * })
 * auth.subscribe(render)
 * await auth.start(location.href)
 * const orders = await auth.fetch('https://api.example.com/api/orders')
 */
import * as oauth from 'oauth4webapi'
import { createClientDpop } from './dpop.ts'
import { indexedDbKeyStore, memoryKeyStore } from './dpop-key.ts'
import { browserEnvironment, type ClientEnvironment } from './environment.ts'
import { GatehouseClientError, knownOAuthError } from './errors.ts'
import { isLocalPath, pendingStore } from './pending.ts'
import { createTabSync } from './tab-sync.ts'
import { fingerprint, tokenSetFrom, type TokenSet } from './tokens.ts'

export interface GatehouseClientOptions {
  /** The issuer URL; endpoints come from its discovery document. */
  issuer: string
  clientId: string
  /** Registered redirect URI; the page there calls `start(location.href)`. */
  redirectUri: string
  /** Registered post-logout redirect URI; without it the issuer shows its signed-out page. */
  postLogoutRedirectUri?: string
  /** Default `openid profile email`. */
  scope?: string
  /** RFC 8707 resource indicator: the API the access token is for, if not the client's default. */
  resource?: string
  /** Refresh this long before the access token expires. Default 60 s. */
  refreshBeforeExpirySeconds?: number
  /** How long a reloaded tab waits for another tab to share its tokens. Default 1,000 ms. */
  peerTimeoutMs?: number
  /**
   * Sender-constrained tokens (RFC 9449): a non-extractable key in IndexedDB signs a proof for every
   * token request and API call, so a token copied out of the page is useless elsewhere. Used when the
   * issuer supports it. Default true.
   */
  dpop?: boolean
  /** Replaces parts of the browser (tests). */
  environment?: Partial<ClientEnvironment>
}

export interface SignedInUser {
  sub: string
  name?: string
  email?: string
  preferredUsername?: string
  claims: Record<string, unknown>
}

export type AuthState =
  | { status: 'loading' }
  | { status: 'redirecting' }
  | { status: 'signed-out'; error?: GatehouseClientError }
  | { status: 'signed-in'; user: SignedInUser; expiresAt: number }

export interface GatehouseClient {
  readonly state: AuthState
  /** Handles a callback URL, or restores the session (other tabs, then `prompt=none`). */
  start(currentUrl: string): Promise<AuthState>
  /** Leaves for the hosted login. `returnTo` is a same-origin path to come back to. */
  login(options?: { returnTo?: string; prompt?: 'login' | 'none' }): Promise<void>
  /** A valid access token, refreshed first when it is about to expire; undefined when signed out. */
  getAccessToken(): Promise<string | undefined>
  /**
   * `fetch` with the access token (and a DPoP proof for a DPoP-bound one); on a 401 `invalid_token`
   * it refreshes once and retries.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>
  /** Refreshes now (coordinated across tabs). False when there is nothing to refresh with. */
  refresh(): Promise<boolean>
  /** Revokes the refresh token, tells the other tabs, and ends the issuer session (navigates). */
  logout(): Promise<void>
  subscribe(listener: (state: AuthState) => void): () => void
  /** Stops timers and leaves the tab group (tests, or an app tearing the client down). */
  close(): void
}

const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri']
const RETRY_AFTER_FAILURE_MS = 15_000

const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)

export function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient {
  const issuerUrl = new URL(options.issuer)
  const redirect = new URL(options.redirectUri)
  // oauth4webapi refuses plain http; allow it only for a loopback issuer (local development).
  const insecure = issuerUrl.protocol === 'http:' && isLoopback(issuerUrl.hostname)
  if (issuerUrl.protocol !== 'https:' && !insecure)
    throw new TypeError('createGatehouseClient: issuer must be https (http only on loopback)')
  if (!options.clientId) throw new TypeError('createGatehouseClient: clientId required')
  // Every member is present: the browser's, overridden by whatever the caller supplied.
  const env = { ...lazyBrowser(options.environment), ...options.environment } as ClientEnvironment
  const scope = options.scope ?? 'openid profile email'
  const skewMs = (options.refreshBeforeExpirySeconds ?? 60) * 1000
  const peerTimeoutMs = options.peerTimeoutMs ?? 1000
  const client: oauth.Client = { client_id: options.clientId }
  const http = {
    [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<'GET' | 'POST', unknown>) =>
      env.fetch(url, init as RequestInit),
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  }
  const pending = pendingStore(env.storage, options.clientId, () => env.now())
  // Without IndexedDB each tab would hold its own key and could not use the others' tokens: no DPoP.
  const dpopKeys =
    env.dpopKeys ?? (globalThis.indexedDB === undefined ? undefined : indexedDbKeyStore())
  const dpop = createClientDpop({
    client,
    fetch: (input, init) => env.fetch(input, init),
    keys: dpopKeys ?? memoryKeyStore(),
    keyName: `${issuerUrl.href}|${options.clientId}`,
    // RFC 9449 §5.1: the issuer lists the proof algorithms it accepts; ours is ES256.
    enabled: async () =>
      options.dpop !== false &&
      dpopKeys !== undefined &&
      ((await server()).dpop_signing_alg_values_supported ?? []).includes('ES256'),
  })
  const markerKey = `gatehouse:${options.clientId}:signed-in`

  let state: AuthState = { status: 'loading' }
  let tokens: TokenSet | undefined
  let signedOutAt = 0
  let timer: unknown
  let discovery: Promise<oauth.AuthorizationServer> | undefined
  const listeners = new Set<(state: AuthState) => void>()

  const setState = (next: AuthState): void => {
    state = next
    for (const listener of listeners) listener(next)
  }

  const server = (): Promise<oauth.AuthorizationServer> => {
    discovery ??= (async () => {
      const response = await oauth.discoveryRequest(issuerUrl, { ...http, algorithm: 'oidc' })
      return oauth.processDiscoveryResponse(issuerUrl, response)
    })().catch((e: unknown) => {
      discovery = undefined // try again next time
      throw asClientError(e)
    })
    return discovery
  }

  // ---- holding tokens -------------------------------------------------------------------------

  const userOf = (claims: Record<string, unknown>): SignedInUser => {
    const text = (k: string): string | undefined =>
      typeof claims[k] === 'string' ? (claims[k] as string) : undefined
    const user: SignedInUser = { sub: text('sub') ?? '', claims }
    const name = text('name')
    const email = text('email')
    const preferred = text('preferred_username')
    if (name !== undefined) user.name = name
    if (email !== undefined) user.email = email
    if (preferred !== undefined) user.preferredUsername = preferred
    return user
  }

  const schedule = (): void => {
    env.clearTimeout(timer)
    if (!tokens?.refreshToken) return
    const due = Math.max(0, tokens.expiresAt - skewMs - env.now())
    timer = env.setTimeout(() => {
      refresh().catch(() => {
        // Offline or the issuer is down: keep the tokens and try again shortly.
        if (tokens)
          timer = env.setTimeout(() => void refresh().catch(() => {}), RETRY_AFTER_FAILURE_MS)
      })
    }, due)
  }

  const adopt = (set: TokenSet): void => {
    tokens = set
    env.storage.setItem(markerKey, '1')
    sync.holdTokens()
    schedule()
    setState({ status: 'signed-in', user: userOf(set.claims), expiresAt: set.expiresAt })
  }

  const dropTokens = (error?: GatehouseClientError): void => {
    tokens = undefined
    env.clearTimeout(timer)
    env.storage.removeItem(markerKey)
    sync.releaseHolder()
    setState(error ? { status: 'signed-out', error } : { status: 'signed-out' })
  }

  const sync = createTabSync({
    env,
    clientId: options.clientId,
    current: () => tokens,
    onTokens(set) {
      // Only ever move forward: an older set may carry a refresh token that was already spent.
      if (set.obtainedAt <= signedOutAt) return
      if (tokens && set.obtainedAt <= tokens.obtainedAt) return
      adopt(set)
    },
    onSignedOut(at) {
      signedOutAt = Math.max(signedOutAt, at)
      if (tokens && tokens.obtainedAt <= at) dropTokens()
    },
  })

  // ---- sign-in ----------------------------------------------------------------------------------

  async function login(
    loginOptions: { returnTo?: string; prompt?: 'login' | 'none' } = {},
  ): Promise<void> {
    const as = await server()
    if (!as.authorization_endpoint)
      throw new GatehouseClientError('network_error', 'The issuer has no authorization endpoint.')
    const codeVerifier = oauth.generateRandomCodeVerifier()
    const stateValue = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const returnTo = isLocalPath(loginOptions.returnTo) ? loginOptions.returnTo : '/'
    pending.save({
      state: stateValue,
      codeVerifier,
      nonce,
      returnTo,
      silent: loginOptions.prompt === 'none',
      createdAt: env.now(),
    })
    const url = new URL(as.authorization_endpoint)
    const params: Record<string, string> = {
      client_id: options.clientId,
      redirect_uri: options.redirectUri,
      response_type: 'code',
      scope,
      state: stateValue,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    }
    if (loginOptions.prompt) params.prompt = loginOptions.prompt
    if (options.resource) params.resource = options.resource
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    setState({ status: 'redirecting' })
    env.navigate(url.href)
  }

  const isCallback = (url: URL): boolean =>
    url.origin === redirect.origin &&
    url.pathname === redirect.pathname &&
    url.searchParams.has('state') &&
    (url.searchParams.has('code') || url.searchParams.has('error'))

  /** The URL without the authorization response parameters. */
  const withoutCallbackParams = (url: URL): string => {
    const clean = new URL(url)
    for (const p of CALLBACK_PARAMS) clean.searchParams.delete(p)
    return `${clean.pathname}${clean.search}${clean.hash}`
  }

  async function handleCallback(url: URL): Promise<void> {
    const request = pending.peek()
    pending.clear() // one attempt per request, whatever happens
    if (!request) return
    const as = await server()
    let params: URLSearchParams
    try {
      params = oauth.validateAuthResponse(as, client, url, request.state)
    } catch (e) {
      if (e instanceof oauth.AuthorizationResponseError) {
        const code = knownOAuthError(e.error)
        // A silent attempt that finds no session is the normal way to learn we are signed out.
        if (request.silent && code !== 'server_error' && code !== 'temporarily_unavailable') {
          dropTokens()
          return
        }
        throw new GatehouseClientError(
          'authorization_error',
          `The sign-in was not completed (${code}).`,
          code,
        )
      }
      const iss = url.searchParams.get('iss')
      if (iss !== null && iss !== as.issuer)
        throw new GatehouseClientError(
          'issuer_mismatch',
          'The sign-in response came from an unexpected issuer; it was ignored.',
        )
      throw new GatehouseClientError(
        'state_mismatch',
        'The sign-in response does not match the request this tab made; it was ignored.',
      )
    }
    try {
      // A refusal for want of a DPoP nonce spends no code (the issuer checks first), so retry it.
      const result = await dpop.withNonceRetry(async () =>
        oauth.processAuthorizationCodeResponse(
          as,
          client,
          await oauth.authorizationCodeGrantRequest(
            as,
            client,
            oauth.None(),
            params,
            options.redirectUri,
            request.codeVerifier,
            { ...http, ...(await dpop.options()) },
          ),
          {
            expectedNonce: request.nonce,
            requireIdToken: scope.split(' ').includes('openid'),
          },
        ),
      )
      const set = tokenSetFrom(result, await profileOf(as, result), env.now())
      adopt(set)
      sync.announce(set)
    } catch (e) {
      throw asClientError(e)
    }
  }

  /**
   * The ID token's claims plus the profile from the UserInfo endpoint (OIDC Core §5.3): Gatehouse
   * puts only protocol claims in ID tokens. The UserInfo `sub` must match the ID token's (§5.3.2).
   */
  async function profileOf(
    as: oauth.AuthorizationServer,
    result: oauth.TokenEndpointResponse,
  ): Promise<Record<string, unknown> | undefined> {
    const idClaims = oauth.getValidatedIdTokenClaims(result)
    if (!idClaims || !as.userinfo_endpoint) return idClaims
    try {
      const bound = result.token_type === 'dpop' ? await dpop.options() : {}
      const response = await dpop.withNonceRetry(() =>
        oauth.userInfoRequest(as, client, result.access_token, { ...http, ...bound }),
      )
      const info = await oauth.processUserInfoResponse(as, client, idClaims.sub, response)
      return { ...info, ...idClaims }
    } catch {
      return idClaims // the profile is a nicety; the sign-in stands without it
    }
  }

  async function start(currentUrl: string): Promise<AuthState> {
    const url = new URL(currentUrl)
    if (isCallback(url)) {
      const returnTo = pending.peek()?.returnTo ?? withoutCallbackParams(url)
      try {
        await handleCallback(url)
      } catch (e) {
        dropTokens(asClientError(e))
      }
      // The code and state must not stay in the address bar or the history (RFC 9700 §4.3).
      env.replaceUrl(returnTo)
      if (state.status !== 'loading') return state
    }
    if (tokens) return state
    if (await sync.peersHoldTokens()) {
      const set = await sync.askPeers(peerTimeoutMs)
      if (set && !tokens) adopt(set)
      if (tokens) return state
    }
    if (env.storage.getItem(markerKey) === '1') {
      // Signed in before this reload: ask the issuer again without UI (see the file comment).
      env.storage.removeItem(markerKey)
      await login({ prompt: 'none', returnTo: withoutCallbackParams(url) })
      return state
    }
    setState({ status: 'signed-out' })
    return state
  }

  // ---- using and refreshing tokens --------------------------------------------------------------

  async function refresh(): Promise<boolean> {
    const used = tokens
    if (!used?.refreshToken) return false
    const refreshToken = used.refreshToken
    return sync.withRefreshLock(async () => {
      // While we waited, another tab may have refreshed and told us.
      if (tokens !== used) return tokens !== undefined
      const mark = await fingerprint(refreshToken)
      if (await sync.wasRotated(mark)) {
        // Another tab spent this token; its new set is on the way or one `hello` away.
        const set = await sync.askPeers(peerTimeoutMs, (s) => s.obtainedAt > used.obtainedAt)
        if (set && tokens === used) adopt(set)
        if (tokens !== used) return tokens !== undefined
        // That tab closed before answering; spending the token again is the last resort (the
        // issuer's grace window returns the same successor for a short while).
      }
      const as = await server()
      let result: oauth.TokenEndpointResponse
      try {
        result = await dpop.withNonceRetry(async () =>
          oauth.processRefreshTokenResponse(
            as,
            client,
            await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, {
              ...http,
              ...(await dpop.options()),
            }),
          ),
        )
      } catch (e) {
        if (e instanceof oauth.ResponseBodyError && e.error === 'invalid_grant') {
          // The family is gone (signed out elsewhere, revoked, expired): every tab is signed out.
          const at = env.now()
          signedOutAt = at
          dropTokens(
            new GatehouseClientError('token_error', 'The session has ended.', 'invalid_grant'),
          )
          sync.announceSignedOut(at)
          return false
        }
        throw asClientError(e)
      }
      const next = tokenSetFrom(result, oauth.getValidatedIdTokenClaims(result), env.now(), used)
      // Held before the refresh lock is released, so the next holder sees it (tab-sync.ts).
      await sync.markRotated(mark)
      adopt(next)
      sync.announce(next)
      return true
    })
  }

  async function getAccessToken(): Promise<string | undefined> {
    if (tokens && env.now() >= tokens.expiresAt - skewMs && tokens.refreshToken) {
      try {
        await refresh()
      } catch {
        // Keep using the current token while it is still valid.
      }
    }
    return tokens && env.now() < tokens.expiresAt ? tokens.accessToken : undefined
  }

  async function authorizedFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const send = async (): Promise<Response> => {
      const token = await getAccessToken()
      if (!token) throw new GatehouseClientError('login_required', 'Sign in first.')
      // A DPoP-bound token goes with a proof for exactly this request (RFC 9449 §7.1).
      return dpop.resourceFetch(token, tokens?.tokenType ?? 'bearer', input, init)
    }
    const response = await send()
    // RFC 6750 §3.1: invalid_token means this token is no good (expired, revoked); a fresh one may be.
    const challenge = response.headers.get('www-authenticate') ?? ''
    if (
      response.status === 401 &&
      /error="invalid_token"/.test(challenge) &&
      tokens?.refreshToken
    ) {
      const before = tokens
      if ((await refresh().catch(() => false)) && tokens !== before) return send()
    }
    return response
  }

  async function logout(): Promise<void> {
    const set = tokens
    const at = env.now()
    signedOutAt = at
    dropTokens()
    sync.announceSignedOut(at)
    const as = await server()
    if (set?.refreshToken && as.revocation_endpoint) {
      try {
        // RFC 7009 §2.1: revoking the refresh token revokes its family and the access tokens in it.
        const response = await oauth.revocationRequest(as, client, oauth.None(), set.refreshToken, {
          ...http,
          additionalParameters: { token_type_hint: 'refresh_token' },
        })
        await oauth.processRevocationResponse(response)
      } catch {
        // Best effort: /logout below ends the session, which revokes its families too.
      }
    }
    // The next sign-in binds its tokens to a new key.
    await dpop.reset().catch(() => {})
    if (!as.end_session_endpoint) return
    const url = new URL(as.end_session_endpoint)
    url.searchParams.set('client_id', options.clientId)
    if (set?.idToken) url.searchParams.set('id_token_hint', set.idToken)
    if (options.postLogoutRedirectUri)
      url.searchParams.set('post_logout_redirect_uri', options.postLogoutRedirectUri)
    setState({ status: 'redirecting' })
    env.navigate(url.href)
  }

  return {
    get state() {
      return state
    },
    start,
    login,
    getAccessToken,
    fetch: authorizedFetch,
    refresh,
    logout,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      env.clearTimeout(timer)
      listeners.clear()
      sync.close()
    },
  }
}

/** The browser defaults, built only when some part is not supplied (so tests need no DOM). */
function lazyBrowser(given: Partial<ClientEnvironment> | undefined): Partial<ClientEnvironment> {
  const names: (keyof ClientEnvironment)[] = [
    'fetch',
    'storage',
    'locks',
    'openChannel',
    'navigate',
    'replaceUrl',
    'now',
    'setTimeout',
    'clearTimeout',
  ]
  return names.every((n) => given?.[n] !== undefined) ? {} : browserEnvironment()
}

/** Maps oauth4webapi and network failures to our errors, without their messages (may quote input). */
function asClientError(e: unknown): GatehouseClientError {
  if (e instanceof GatehouseClientError) return e
  if (e instanceof oauth.ResponseBodyError) {
    const code = knownOAuthError(e.error)
    return new GatehouseClientError(
      'token_error',
      `The issuer refused the request (${code}).`,
      code,
    )
  }
  if (e instanceof oauth.AuthorizationResponseError) {
    const code = knownOAuthError(e.error)
    return new GatehouseClientError('authorization_error', `The sign-in failed (${code}).`, code)
  }
  if (e instanceof oauth.OperationProcessingError)
    return new GatehouseClientError('token_error', 'The issuer answered with an invalid response.')
  return new GatehouseClientError('network_error', 'The issuer could not be reached.')
}
