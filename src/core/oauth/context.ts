/**
 * Everything the OAuth endpoints share, built once from the validated config: the parts are small
 * factories (clients, codes, refresh families, sessions, signer, revoker); this file only wires them.
 *
 * @example
 * const oauth = await createOAuthContext({ config, store, passwords, crypto: nodeOAuthCrypto })
 * await exchangeToken(oauth, form, client)
 */
import type { Clock } from '../types.ts'
import { createClientRegistry, type ClientRegistry } from './clients.ts'
import { createAuthorizationCodes, type AuthorizationCodes } from './codes.ts'
import type { OAuthConfig } from './config.ts'
import type { Sha256 } from './crypto.ts'
import { loadSigningKeys, type SigningKeySet } from './keys.ts'
import { createLoginRequests, type LoginRequests } from './login-requests.ts'
import { createTokenSigner, type JwsSign, type TokenSigner } from './mint.ts'
import type { PasswordHasher } from './password.ts'
import { createRefreshTokens, type RefreshTokens } from './refresh-tokens.ts'
import type { Revoker } from './revocation.ts'
import { createSessions, type Sessions } from './sessions.ts'
import type { OAuthStore } from './store.ts'
import { createUserDirectory, type UserDirectory } from './users.ts'

export interface OAuthContext {
  config: OAuthConfig
  issuer: string
  store: OAuthStore
  clock: Clock
  keys: SigningKeySet
  clients: ClientRegistry
  users: UserDirectory
  codes: AuthorizationCodes
  refreshTokens: RefreshTokens
  sessions: Sessions
  loginRequests: LoginRequests
  signer: TokenSigner
  revoker: Revoker
}

/**
 * The hot-path primitives a runtime may replace (verification's `SignatureCheck` is the precedent):
 * each defaults to WebCrypto; the Node entry passes `nodeOAuthCrypto` (src/entry/node-crypto.ts).
 */
export interface OAuthCrypto {
  /** Client secret digests at /token, /revoke, /introspect. */
  sha256: Sha256
  /** The JWS signature of every minted token. */
  signJws: JwsSign
}

export interface OAuthContextOptions {
  config: OAuthConfig
  store: OAuthStore
  passwords: PasswordHasher
  /** Default: the configured keys. Pass a set built elsewhere (e.g. a shared development key). */
  keys?: SigningKeySet
  /** Revocation records shared with the edge: `createOAuthRevoker` in src/revocation/. */
  revoker: Revoker
  clock?: Clock
  /** Default: WebCrypto for each primitive. */
  crypto?: Partial<OAuthCrypto>
}

export async function createOAuthContext(options: OAuthContextOptions): Promise<OAuthContext> {
  const { config, store, passwords } = options
  const clock = options.clock ?? Date.now
  const t = config.tokens
  const keys = options.keys ?? (await loadSigningKeys(config.keys))
  const { revoker } = options
  const refreshTokens = createRefreshTokens({
    store,
    revoker,
    ttlSeconds: t.refreshTokenTtlSeconds,
    graceSeconds: t.refreshGraceSeconds,
    clock,
  })
  return {
    config,
    issuer: config.issuer,
    store,
    clock,
    keys,
    revoker,
    refreshTokens,
    clients: createClientRegistry(
      config.clients,
      options.crypto?.sha256 ? { sha256: options.crypto.sha256 } : {},
    ),
    users: createUserDirectory({
      users: config.users,
      store,
      passwords,
      rateLimits: config.rateLimits,
      clock,
    }),
    codes: createAuthorizationCodes({
      store,
      ttlSeconds: t.authorizationCodeTtlSeconds,
      markerTtlSeconds: t.refreshTokenTtlSeconds,
      clock,
    }),
    sessions: createSessions({
      store,
      refreshTokens,
      revoker,
      ttlSeconds: t.sessionTtlSeconds,
      clock,
    }),
    loginRequests: createLoginRequests({ store, ttlSeconds: t.loginRequestTtlSeconds, clock }),
    signer: createTokenSigner({
      issuer: config.issuer,
      keys,
      accessTokenTtlSeconds: t.accessTokenTtlSeconds,
      idTokenTtlSeconds: t.idTokenTtlSeconds,
      clock,
      ...(options.crypto?.signJws ? { sign: options.crypto.signJws } : {}),
    }),
  }
}
