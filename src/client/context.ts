/**
 * What every part of the client shares, built once from the options: the checked issuer and redirect
 * URLs, the environment (the browser's, with the caller's overrides), oauth4webapi's client and HTTP
 * options, the discovery document (fetched once, again after a failure), the pending-request store
 * and the DPoP signer (dpop.ts).
 */
import * as oauth from 'oauth4webapi'
import { HTTPS_EXCEPT_LOOPBACK, isHttpsOrLoopback, parseHttpUrl } from '../core/urls.ts'
import { createClientDpop, type ClientDpop } from './dpop.ts'
import { indexedDbKeyStore, memoryKeyStore } from './dpop-key.ts'
import { browserEnvironment, type ClientEnvironment } from './environment.ts'
import { asClientError } from './errors.ts'
import type { GatehouseClientOptions } from './options.ts'
import { pendingStore } from './pending.ts'
import { signedInFlag, tabStateNames, type SignedInFlag } from './tab-state.ts'

export interface ClientContext {
  options: GatehouseClientOptions
  env: ClientEnvironment
  redirect: URL
  scope: string
  /** Refresh this many ms before expiry. */
  skewMs: number
  peerTimeoutMs: number
  oauthClient: oauth.Client
  /** oauth4webapi's request options: our fetch, and plain http for a loopback issuer. */
  http: ReturnType<typeof httpOptions>
  /** The issuer's discovery document (OpenID Connect Discovery §4). */
  server(): Promise<oauth.AuthorizationServer>
  pending: ReturnType<typeof pendingStore>
  /** The "was signed in" flag a reload looks for, in sessionStorage. */
  signedIn: SignedInFlag
  /** What this (issuer, client id)'s tab channel and locks are named after (tab-state.ts). */
  tabStateName: string
  /** DPoP proofs for token requests and API calls (RFC 9449), when the issuer supports it. */
  dpop: ClientDpop
}

/**
 * Checks the options and builds the shared context; throws a `TypeError` for unusable options.
 *
 * @example const ctx = createClientContext({ issuer, clientId: 'spa', redirectUri })
 */
export function createClientContext(options: GatehouseClientOptions): ClientContext {
  // Tokens and codes travel to the issuer and to the redirect URI: https, plain http only on
  // loopback for local development (RFC 9700 §2.6, OAuth 2.1 §1.5, RFC 8252 §7.3). Every problem at once.
  const issuerUrl = parseHttpUrl(options.issuer)
  const redirect = parseHttpUrl(options.redirectUri)
  const problems = [
    ...(issuerUrl && isHttpsOrLoopback(issuerUrl) ? [] : [`issuer ${HTTPS_EXCEPT_LOOPBACK}`]),
    ...(redirect && isHttpsOrLoopback(redirect) ? [] : [`redirectUri ${HTTPS_EXCEPT_LOOPBACK}`]),
    ...(options.clientId ? [] : ['clientId is required']),
  ]
  if (!issuerUrl || !redirect || problems.length > 0)
    throw new TypeError(`createGatehouseClient: ${problems.join('; ')}`)
  // oauth4webapi refuses plain http unless told; by now http means a loopback issuer.
  const insecure = issuerUrl.protocol === 'http:'
  // Every member is present: the browser's, overridden by whatever the caller supplied.
  const env = { ...lazyBrowser(options.environment), ...options.environment } as ClientEnvironment
  const http = httpOptions(env, insecure)

  let discovery: Promise<oauth.AuthorizationServer> | undefined
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
  const oauthClient: oauth.Client = { client_id: options.clientId }
  // Without IndexedDB each tab would hold its own key and could not use the others' tokens: no DPoP.
  const dpopKeys =
    env.dpopKeys ?? (globalThis.indexedDB === undefined ? undefined : indexedDbKeyStore())
  const dpop = createClientDpop({
    client: oauthClient,
    fetch: (input, init) => env.fetch(input, init),
    keys: dpopKeys ?? memoryKeyStore(),
    keyName: `${issuerUrl.href}|${options.clientId}`,
    // RFC 9449 §5.1: the issuer lists the proof algorithms it accepts; ours is ES256.
    enabled: async () =>
      options.dpop !== false &&
      dpopKeys !== undefined &&
      ((await server()).dpop_signing_alg_values_supported ?? []).includes('ES256'),
  })

  // Per (issuer, client id), not per client id: tenants of one deployment may share a client id.
  const names = tabStateNames(issuerUrl, options.clientId)
  return {
    options,
    env,
    redirect,
    scope: options.scope ?? 'openid profile email',
    skewMs: (options.refreshBeforeExpirySeconds ?? 60) * 1000,
    peerTimeoutMs: options.peerTimeoutMs ?? 1000,
    oauthClient,
    http,
    server,
    pending: pendingStore(env.storage, names, () => env.now()),
    signedIn: signedInFlag(env.storage, names),
    tabStateName: names.base,
    dpop,
  }
}

function httpOptions(env: ClientEnvironment, insecure: boolean) {
  return {
    [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<'GET' | 'POST', unknown>) =>
      env.fetch(url, init as RequestInit),
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
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
