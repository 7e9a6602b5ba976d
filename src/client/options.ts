/** The options and public types of `createGatehouseClient` (client.ts). */
import type { ClientEnvironment } from './environment.ts'
import type { GatehouseClientError } from './errors.ts'

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
  login(options?: LoginOptions): Promise<void>
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

export interface LoginOptions {
  returnTo?: string
  prompt?: 'login' | 'none'
}
