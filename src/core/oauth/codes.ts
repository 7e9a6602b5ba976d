/**
 * Authorization codes (RFC 6749 §4.1.2): opaque, 256 random bits, single use, 60 s, bound to the client,
 * the redirect URI and the PKCE challenge. Stored under the code's SHA-256 digest.
 *
 * Redemption is one compare-and-swap from the issued record to a `redeemed` marker that names what the
 * redemption is about to issue (refresh family id and access token `jti`, generated beforehand). The
 * marker outlives the code (as long as a refresh family can), so a replay — even one racing the first
 * redemption — finds it and revokes what was issued (RFC 6749 §4.1.2, RFC 9700 §4.5). A CAS rather
 * than GETDEL: "consume" and "remember what it issued" must be the same atomic step, or a replay landing
 * between the two would find neither the code nor the marker.
 *
 * @example
 * const code = await codes.issue(grant)
 * const found = await codes.find(code) // { raw, record } | undefined
 */
import type { Clock } from '../types.ts'
import { randomToken, sha256 } from './crypto.ts'
import { keys, parseRecord, type OAuthStore } from './store.ts'

export interface CodeGrant {
  clientId: string
  redirectUri: string
  /** RFC 6749 §4.1.3: when the authorization request named redirect_uri, the token request must too. */
  redirectUriExplicit: boolean
  codeChallenge: string
  scope: string
  resource?: string | undefined
  nonce?: string | undefined
  sub: string
  sid: string
  authTime: number
}

export interface IssuedCode extends CodeGrant {
  state: 'issued'
  /** Milliseconds since the epoch. */
  expiresAt: number
}

export interface RedeemedCode {
  state: 'redeemed'
  familyId?: string | undefined
  jti: string
  exp: number
}

export type CodeRecord = IssuedCode | RedeemedCode

export interface AuthorizationCodes {
  issue(grant: CodeGrant): Promise<string>
  find(code: string): Promise<{ key: string; raw: string; record: CodeRecord } | undefined>
  /** Atomically swaps the issued record for the marker; false if someone else redeemed it first. */
  markRedeemed(key: string, raw: string, marker: RedeemedCode): Promise<boolean>
}

const CODE_SHAPE = /^[A-Za-z0-9_-]{43}$/

export function createAuthorizationCodes(options: {
  store: OAuthStore
  ttlSeconds: number
  /** How long a redeemed marker is kept: the longest anything issued from a code can live. */
  markerTtlSeconds: number
  clock?: Clock
}): AuthorizationCodes {
  const { store, ttlSeconds, markerTtlSeconds } = options
  const clock = options.clock ?? Date.now
  return {
    async issue(grant) {
      const code = randomToken(32)
      const record: IssuedCode = {
        ...grant,
        state: 'issued',
        expiresAt: clock() + ttlSeconds * 1000,
      }
      await store.set(keys.code(await sha256(code)), JSON.stringify(record), { ttlSeconds })
      return code
    },
    async find(code) {
      if (!CODE_SHAPE.test(code)) return undefined
      const key = keys.code(await sha256(code))
      const raw = await store.get(key)
      const record = parseRecord<CodeRecord>(raw)
      return raw !== null && record ? { key, raw, record } : undefined
    },
    markRedeemed: (key, raw, marker) =>
      store.compareAndSwap(key, raw, JSON.stringify(marker), { ttlSeconds: markerTtlSeconds }),
  }
}
