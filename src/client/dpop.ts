/**
 * DPoP for the browser client (RFC 9449), done by oauth4webapi: its `DPoP` handle signs a proof for
 * every token request and every API call and keeps the server's nonces; this file supplies the key
 * (dpop-key.ts), decides when DPoP is used, retries once when a server asks for a fresh nonce (§8,
 * §9), and sends API calls with the scheme the token was issued for (a DPoP-bound token as
 * `Authorization: DPoP` with a proof, a bearer token as `Bearer`).
 *
 * DPoP is used when the issuer's discovery lists ES256 in `dpop_signing_alg_values_supported` and the
 * app has not turned it off (`dpop: false`).
 *
 * @example
 * const dpop = createClientDpop({ client, keys, keyName, fetch, enabled: async () => true })
 * const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), rt, {
 *   ...http,
 *   ...(await dpop.options()),
 * })
 */
import * as oauth from 'oauth4webapi'
import type { DpopKeyStore } from './dpop-key.ts'

/** The token type as oauth4webapi reports it (lower case). */
export type TokenType = 'dpop' | 'bearer'

export interface ClientDpopOptions {
  client: oauth.Client
  keys: DpopKeyStore
  /** The key's name in the store: one key per issuer and client. */
  keyName: string
  /** Whether to use DPoP at all (discovery says the issuer accepts ES256 proofs). */
  enabled: () => Promise<boolean>
  fetch: typeof fetch
}

export interface ClientDpop {
  /** `{ DPoP }` for an oauth4webapi token or UserInfo request; `{}` when DPoP is off. */
  options(): Promise<{ DPoP?: oauth.DPoPHandle }>
  /** Runs `request` and, if the server answered `use_dpop_nonce`, once more with its nonce. */
  withNonceRetry<T>(request: () => Promise<T>): Promise<T>
  /** An API call with `token`: a proof and the DPoP scheme for a DPoP token, else Bearer. */
  resourceFetch(
    token: string,
    type: TokenType,
    input: string | URL,
    init?: RequestInit,
  ): Promise<Response>
  /** Forgets the key (sign-out), so the next sign-in binds its tokens to a new one. */
  reset(): Promise<void>
}

const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)

/**
 * @example const dpop = createClientDpop({ client, keys: indexedDbKeyStore(), keyName, enabled, fetch })
 */
export function createClientDpop(options: ClientDpopOptions): ClientDpop {
  const { client, keys, keyName } = options
  // One handle per key for the page's life: it holds the nonces servers gave us.
  let handle: Promise<oauth.DPoPHandle> | undefined

  const getHandle = (): Promise<oauth.DPoPHandle> => {
    handle ??= keys.load(keyName).then((pair) => oauth.DPoP(client, pair))
    handle.catch(() => (handle = undefined)) // try again next time
    return handle
  }

  async function options_(): Promise<{ DPoP?: oauth.DPoPHandle }> {
    if (!(await options.enabled())) return {}
    return { DPoP: await getHandle() }
  }

  async function withNonceRetry<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request()
    } catch (e) {
      // The handle has cached the nonce from the refusal; the retry's proof carries it.
      if (oauth.isDPoPNonceError(e)) return request()
      throw e
    }
  }

  async function resourceFetch(
    token: string,
    type: TokenType,
    input: string | URL,
    init: RequestInit = {},
  ): Promise<Response> {
    if (type !== 'dpop') {
      const headers = new Headers(init.headers)
      headers.set('Authorization', `Bearer ${token}`)
      return options.fetch(input, { ...init, headers })
    }
    const url = new URL(input, globalThis.location?.href)
    const DPoP = await getHandle()
    const send = () =>
      oauth.protectedResourceRequest(
        token,
        (init.method ?? 'GET').toUpperCase(),
        url,
        new Headers(init.headers),
        (init.body ?? undefined) as oauth.ProtectedResourceRequestBody,
        {
          [oauth.customFetch]: (href, request) => options.fetch(href, request as RequestInit),
          DPoP,
          ...(url.protocol === 'http:' && isLoopback(url.hostname)
            ? { [oauth.allowInsecureRequests]: true }
            : {}),
          ...(init.signal ? { signal: init.signal } : {}),
        },
      )
    // A challenge (401, 403) is an answer for the caller to read, not a failure to fetch; only
    // `use_dpop_nonce` is ours to handle, by sending once more with the nonce the handle kept.
    for (let attempt = 0; ; attempt++) {
      try {
        return await send()
      } catch (e) {
        if (!(e instanceof oauth.WWWAuthenticateChallengeError)) throw e
        if (attempt > 0 || !oauth.isDPoPNonceError(e)) return e.response
      }
    }
  }

  return {
    options: options_,
    withNonceRetry,
    resourceFetch,
    async reset() {
      handle = undefined
      await keys.remove(keyName)
    },
  }
}
