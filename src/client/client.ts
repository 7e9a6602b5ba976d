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
import { createClientContext } from './context.ts'
import { logout } from './logout.ts'
import type { GatehouseClient, GatehouseClientOptions } from './options.ts'
import { authorizedFetch, getAccessToken, refreshTokens } from './refresh.ts'
import { createSession, type Session } from './session.ts'
import { login, start } from './sign-in.ts'

/**
 * The client: the shared context (context.ts), this tab's session (session.ts), and the operations
 * on them — sign-in (sign-in.ts), refresh and authorized fetch (refresh.ts), logout (logout.ts).
 */
export function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient {
  const ctx = createClientContext(options)
  const session: Session = createSession(ctx, () => refreshTokens(ctx, session))
  return {
    get state() {
      return session.state
    },
    start: (currentUrl) => start(ctx, session, currentUrl),
    login: (loginOptions) => login(ctx, session, loginOptions),
    getAccessToken: () => getAccessToken(ctx, session),
    fetch: (input, init) => authorizedFetch(ctx, session, input, init),
    refresh: () => refreshTokens(ctx, session),
    logout: () => logout(ctx, session),
    subscribe: (listener) => session.subscribe(listener),
    close: () => session.close(),
  }
}
