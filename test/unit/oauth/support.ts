/**
 * Test harness for the OAuth route group: a config with a public SPA client, a confidential service
 * client and one user; an in-process app over the memory store and a fake clock (or any store, for
 * the integration tests); and a tiny "browser" with a cookie jar that drives the hosted login form.
 */
import { createOAuthRevoker } from '../../../src/revocation/oauth-revoker.ts'
import * as oauth from 'oauth4webapi'
import { privateJwks } from '../../fixtures/keys.ts'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import { parseOAuthConfig, type OAuthConfigInput } from '../../../src/core/oauth/config.ts'
import { createOAuthContext, type OAuthContext } from '../../../src/core/oauth/context.ts'
import type { OAuthStore } from '../../../src/core/oauth/store.ts'
import type { KeyStatus, SigningKeyConfig } from '../../../src/core/oauth/config.ts'
import type { TestAlg } from '../../fixtures/keys.ts'
import { createScryptHasher } from '../../../src/entry/password.ts'
import { createOAuthRoutes } from '../../../src/http/oauth/routes.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { LogRecord } from '../../../src/http/log.ts'

export const ISSUER = 'https://auth.test'
export const API = 'https://api.test'
export const SPA_REDIRECT = 'https://app.test/callback'
export const SPA_LOGOUT = 'https://app.test/signed-out'
export const SERVICE_SECRET = 'service-secret-0123456789abcdefghijklmnopqrstuvwxyz'
export const USER = {
  username: 'alice',
  password: 'correct horse battery staple',
  sub: 'user-alice',
}

/** A fixture key with a status, typed as a config key. */
export const configKey = (alg: TestAlg, status: KeyStatus): SigningKeyConfig =>
  ({ ...privateJwks[alg], status }) as SigningKeyConfig

// Fast scrypt for tests (N = 2^10); production uses the OWASP N = 2^17.
export const testPasswords = createScryptHasher({ ln: 10, r: 8, p: 1 })
let aliceHash: Promise<string> | undefined

export async function testConfig(
  overrides: Partial<OAuthConfigInput> = {},
): Promise<OAuthConfigInput> {
  aliceHash ??= testPasswords.hash(USER.password)
  return {
    issuer: ISSUER,
    keys: [configKey('ES256', 'active')],
    clients: [
      {
        id: 'spa',
        name: 'Example <SPA>',
        type: 'public',
        redirectUris: [SPA_REDIRECT, 'https://app.test/other'],
        postLogoutRedirectUris: [SPA_LOGOUT],
        allowedOrigins: ['https://app.test'],
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'profile', 'email', 'read'],
        audiences: [API],
      },
      {
        id: 'service',
        type: 'confidential',
        secretHash: await hashClientSecret(SERVICE_SECRET),
        redirectUris: ['https://service.test/cb'],
        grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
        scopes: ['openid', 'read', 'write'],
        defaultScopes: ['read'],
        audiences: [API, 'https://other-api.test'],
      },
    ],
    users: [
      {
        sub: USER.sub,
        username: USER.username,
        passwordHash: await aliceHash,
        claims: { name: 'Alice', email: 'alice@example.test', email_verified: true },
      },
    ],
    ...overrides,
  }
}

export interface Harness {
  oauth: OAuthContext
  store: OAuthStore
  /** Fetch into the app (in-process, or over HTTP when a base URL is given). */
  fetch: (input: string | URL | Request, init?: object) => Promise<Response>
  logs: LogRecord[]
  advance(ms: number): void
  now(): number
}

export async function createHarness(
  options: { config?: Partial<OAuthConfigInput>; store?: OAuthStore; clock?: () => number } = {},
): Promise<Harness> {
  let offset = 0
  const start = Date.now()
  const clock = options.clock ?? (() => start + offset)
  const store = options.store ?? createMemoryStore({ now: clock })
  const config = parseOAuthConfig(await testConfig(options.config))
  const context = await createOAuthContext({
    config,
    store,
    passwords: testPasswords,
    clock,
    revoker: createOAuthRevoker({ store, now: clock }),
  })
  const logs: LogRecord[] = []
  const app = createOAuthRoutes({
    oauth: context,
    logger: { log: (r) => logs.push(r) },
    clientIp: (c) => c.req.header('x-test-ip') ?? '192.0.2.1',
  })
  return {
    oauth: context,
    store,
    logs,
    fetch: async (input, init) => app.request(new Request(input, init as RequestInit | undefined)),
    advance: (ms) => void (offset += ms),
    now: clock,
  }
}

/** A cookie jar and manual redirects: enough of a browser to drive the login form. */
export class Browser {
  readonly cookies = new Map<string, string>()
  private readonly fetcher: Harness['fetch']
  constructor(fetcher: Harness['fetch']) {
    this.fetcher = fetcher
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0)
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const response = await this.fetcher(url, { ...init, headers, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq)
      const value = pair!.slice(eq + 1)
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return response
  }

  /**
   * Submits the first form in `html` as a browser would: its action, every hidden field, plus
   * `extra`. For the logout confirmation page and any other server-rendered form.
   */
  async submitForm(
    html: string,
    extra: Record<string, string> = {},
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html)
    if (!form) throw new Error('no form in page')
    const fields = new URLSearchParams()
    for (const [, name, value] of form[2]!.matchAll(
      /<input type="hidden" name="([^"]+)" value="([^"]*)">/g,
    ))
      fields.append(name!, value!.replace(/&amp;/g, '&'))
    for (const [name, value] of Object.entries(extra)) fields.append(name, value)
    return this.request(form[1]!.replace(/&amp;/g, '&'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: fields,
    })
  }

  /**
   * RP-initiated logout as the user would do it: GET /logout with `params`, then, when the issuer
   * asks, the confirmation form. Returns the final response.
   */
  async logout(params: Record<string, string> = {}): Promise<Response> {
    const response = await this.request(`${ISSUER}/logout?${new URLSearchParams(params)}`)
    const html = response.status === 200 ? await response.clone().text() : ''
    return html.includes('name="confirmation"') ? this.submitForm(html) : response
  }

  /** Posts the login form found in `html`; returns the response (303 to the client on success). */
  async submitLogin(html: string, username: string, password: string): Promise<Response> {
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1]
    if (!action || !csrf) throw new Error('no login form in page')
    return this.request(action.replace(/&amp;/g, '&'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrf, username, password }),
    })
  }
}

export const spaClient: oauth.Client = { client_id: 'spa' }

/** Discovery through oauth4webapi, from the issuer URL alone. */
export async function discover(h: Pick<Harness, 'fetch'>): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(ISSUER)
  const response = await oauth.discoveryRequest(issuer, {
    algorithm: 'oidc',
    [oauth.customFetch]: h.fetch,
  })
  return oauth.processDiscoveryResponse(issuer, response)
}

/**
 * Runs the whole authorization-code + PKCE flow as the SPA: /authorize → login form → code → tokens.
 * Returns the token response and the browser (holding the session cookie).
 */
export async function signIn(
  h: Harness,
  as: oauth.AuthorizationServer,
  options: { scope?: string; browser?: Browser } = {},
): Promise<{ tokens: oauth.TokenEndpointResponse; browser: Browser; nonce: string }> {
  const browser = options.browser ?? new Browser(h.fetch)
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: options.scope ?? 'openid profile email read',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString()
  let response = await browser.request(url.href)
  if (response.status === 200)
    response = await browser.submitLogin(await response.text(), USER.username, USER.password)
  const location = response.headers.get('location')
  if (!location) throw new Error(`no redirect from login: ${response.status}`)
  const params = oauth.validateAuthResponse(as, spaClient, new URL(location), state)
  const tokenResponse = await oauth.authorizationCodeGrantRequest(
    as,
    spaClient,
    oauth.None(),
    params,
    SPA_REDIRECT,
    verifier,
    {
      [oauth.customFetch]: h.fetch,
    },
  )
  const tokens = await oauth.processAuthorizationCodeResponse(as, spaClient, tokenResponse, {
    expectedNonce: nonce,
    requireIdToken: true,
  })
  return { tokens, browser, nonce }
}

/** A raw form POST to an endpoint. */
export function postForm(
  h: Pick<Harness, 'fetch'>,
  path: string,
  body: string | Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return h.fetch(`${ISSUER}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  })
}

export const basic = (id: string, secret: string): string =>
  `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`

/** Runs /authorize + login for the SPA and returns the code (not yet redeemed) and its verifier. */
export async function obtainCode(
  h: Harness,
  options: { browser?: Browser; scope?: string; redirectUri?: string; clientId?: string } = {},
): Promise<{ code: string; verifier: string; browser: Browser }> {
  const browser = options.browser ?? new Browser(h.fetch)
  const verifier = oauth.generateRandomCodeVerifier()
  const query = new URLSearchParams({
    client_id: options.clientId ?? 'spa',
    redirect_uri: options.redirectUri ?? SPA_REDIRECT,
    response_type: 'code',
    scope: options.scope ?? 'openid read',
    state: 'xyz',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  let response = await browser.request(`${ISSUER}/authorize?${query}`)
  if (response.status === 200)
    response = await browser.submitLogin(await response.text(), USER.username, USER.password)
  const location = new URL(response.headers.get('location') ?? 'x:')
  const code = location.searchParams.get('code')
  if (!code) throw new Error(`no code: ${response.status} ${location.href}`)
  return { code, verifier, browser }
}

/**
 * The SPA's authorization-code exchange form for a code `obtainCode` returned.
 *
 * @example
 * const { code, verifier } = await obtainCode(h)
 * await postForm(h, '/token', codeExchangeForm(code, verifier))
 */
export const codeExchangeForm = (code: string, verifier: string): Record<string, string> => ({
  grant_type: 'authorization_code',
  code,
  redirect_uri: SPA_REDIRECT,
  client_id: 'spa',
  code_verifier: verifier,
})
