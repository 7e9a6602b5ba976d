/**
 * Everything the OAuth endpoints share, built once from the validated config: the parts are small
 * factories (clients, codes, refresh families, sessions, signer, revoker); this file only wires them.
 *
 * @example
 * const oauth = await createOAuthContext({ config, store, passwords, crypto: nodeOAuthCrypto })
 * await exchangeToken(oauth, form, client)
 */
import type { Clock } from '../types.ts'
import { createBackchannelQueue, type BackchannelQueue } from './backchannel-queue.ts'
import { createClientRegistry, type ClientRegistry } from './clients.ts'
import { createAuthorizationCodes, type AuthorizationCodes } from './codes.ts'
import type { OAuthConfig } from './config.ts'
import type { Sha256 } from './crypto.ts'
import { createOriginDpop, type OriginDpop } from './dpop.ts'
import { loadSigningKeys, type SigningKeySet } from './keys.ts'
import { createLoginRequests, type LoginRequests } from './login-requests.ts'
import { createLogoutConfirmations, type LogoutConfirmations } from './logout-confirmations.ts'
import { createTokenSigner, type JwsSign, type TokenSigner } from './mint.ts'
import type { PasswordHasher } from './password.ts'
import { createRefreshTokens, type RefreshTokens } from './refresh-tokens.ts'
import type { Revoker } from './revocation.ts'
import { createSessions, type SessionEndReason, type Sessions } from './sessions.ts'
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
  logoutConfirmations: LogoutConfirmations
  signer: TokenSigner
  revoker: Revoker
  /** Back-channel logout deliveries waiting in L2 (a worker on the origin sends them). */
  backchannel: BackchannelQueue
  /** DPoP proofs at /token and /userinfo: checker, replay cache, nonces (RFC 9449). */
  dpop: OriginDpop
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
  /** A session ended (logs, metrics). */
  onSessionEnded?: (event: { reason: SessionEndReason; clients: number }) => void
  /** DPoP proof age and the replay policy while L2 is away (docs/dpop.md). Defaults: 60 s, open. */
  dpop?: { maxAgeSeconds?: number; replayPolicy?: 'open' | 'closed' }
}

export async function createOAuthContext(options: OAuthContextOptions): Promise<OAuthContext> {
  const { config, store, passwords } = options
  const clock = options.clock ?? Date.now
  const t = config.tokens
  const keys = options.keys ?? (await loadSigningKeys(config.keys))
  const { revoker } = options
  const delivery = config.backchannelLogout
  const backchannel = createBackchannelQueue({
    store,
    clock,
    retry: { ...delivery, leaseSeconds: backchannelLeaseSeconds(delivery.timeoutSeconds) },
  })
  const sessions = createSessions({
    store,
    // Late-bound: the refresh tokens, built next, end sessions in turn.
    refreshTokens: { revokeFamily: (familyId) => refreshTokens.revokeFamily(familyId) },
    revoker,
    backchannel,
    ttlSeconds: t.sessionTtlSeconds,
    clock,
    ...(options.onSessionEnded
      ? { onEnded: ({ reason, clients }) => options.onSessionEnded?.({ reason, clients }) }
      : {}),
  })
  const refreshTokens = createRefreshTokens({
    store,
    revoker,
    ttlSeconds: t.refreshTokenTtlSeconds,
    graceSeconds: t.refreshGraceSeconds,
    clock,
    // RFC 9700 §4.14.2: a replayed refresh token was stolen; its whole login session ends.
    onReuse: async (familyId, family) => {
      if (family.sid !== undefined) await sessions.end(family.sid, 'refresh_reuse')
      else await backchannel.enqueue([{ clientId: family.clientId, sub: family.sub, familyId }])
    },
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
    sessions,
    backchannel,
    dpop: createOriginDpop({
      store,
      clock,
      ...(options.dpop?.maxAgeSeconds === undefined
        ? {}
        : { maxAgeSeconds: options.dpop.maxAgeSeconds }),
      ...(options.dpop?.replayPolicy === undefined
        ? {}
        : { replayPolicy: options.dpop.replayPolicy }),
    }),
    loginRequests: createLoginRequests({ store, ttlSeconds: t.loginRequestTtlSeconds, clock }),
    logoutConfirmations: createLogoutConfirmations({
      store,
      ttlSeconds: t.loginRequestTtlSeconds,
      clock,
    }),
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

/**
 * How long a claimed delivery stays leased: two whole POST deadlines and a second, so a live worker
 * never loses its lease mid-delivery while a dead one's jobs come back soon.
 *
 * @example backchannelLeaseSeconds(5) // 11
 */
export const backchannelLeaseSeconds = (timeoutSeconds: number): number => 2 * timeoutSeconds + 1
