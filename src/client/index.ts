/**
 * `@gatehouse/auth/client`: sign-in for single-page apps against a Gatehouse issuer (authorization code +
 * PKCE, tokens in memory shared across tabs, coordinated refresh, logout). See client.ts.
 *
 * @example
 * import { createGatehouseClient } from '@gatehouse/auth/client'
 * const auth = createGatehouseClient({ issuer, clientId: 'spa', redirectUri: `${location.origin}/callback` })
 * await auth.start(location.href)
 */
export { createGatehouseClient } from './client.ts'
export type {
  AuthState,
  GatehouseClient,
  GatehouseClientOptions,
  LoginOptions,
  SignedInUser,
} from './options.ts'
export { GatehouseClientError, type GatehouseClientErrorCode } from './errors.ts'
export { localLocks } from './environment.ts'
export type { ChannelLike, ClientEnvironment, LockManagerLike, StorageLike } from './environment.ts'
export type { TokenSet } from './tokens.ts'
