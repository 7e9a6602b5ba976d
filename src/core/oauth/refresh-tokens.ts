/**
 * Refresh tokens: opaque 256-bit random values, stored only as SHA-256 digests, grouped in families
 * (one per authorization grant) and rotated on every use (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1).
 *
 * Records: `oauth:rt:<sha256(token)>` → `{ familyId, state: 'active' | 'rotated', rotatedAt?, successor? }`
 * and `oauth:rf:<familyId>` → the grant (client, subject, scope, audience, session) plus `revoked` and
 * the access tokens issued in the family (so revoking the family revokes them too).
 *
 * Rotation is one compare-and-swap of the presented token's record from `active` to `rotated`; the
 * successor's record is written before the swap (so a crash never leaves a client holding a token the
 * store does not know) and deleted again if the swap loses. The loser of a race re-reads and takes the
 * grace path: within `graceSeconds` of the rotation, a replay of the rotated token returns the SAME
 * successor, which lets two tabs refreshing at once both stay signed in. The successor is kept only
 * sealed with a key derived from the presented token (HKDF → AES-GCM), so the store never holds a usable
 * refresh token and only a holder of the old token can read it. A replay after the window is treated
 * as theft: the whole family is revoked (RFC 9700 §4.14.2), `onReuse` is told (the origin ends the
 * family's login session, which also tells every client of it over the back channel), and
 * `invalid_grant` returned.
 *
 * @example
 * const refresh = createRefreshTokens({ store, revoker, ttlSeconds: 2592000, graceSeconds: 10 })
 * const { token } = await refresh.startFamily({ clientId, sub, scope, aud, sid, authTime })
 * const next = await refresh.rotate(token, clientId) // { token, familyId, family }
 */
import type { Clock } from '../types.ts'
import { randomToken, seal, sha256, unseal } from './crypto.ts'
import { OAuthError } from './errors.ts'
import type { Revoker } from './revocation.ts'
import { keys, parseRecord, updateJson, type OAuthStore } from './store.ts'

export interface FamilyGrant {
  clientId: string
  sub: string
  scope: string
  aud: string
  sid?: string | undefined
  authTime?: number | undefined
  /** RFC 9449 §5: a public client's family is bound to its DPoP key (thumbprint, §6.1). */
  jkt?: string | undefined
}

export interface FamilyRecord extends FamilyGrant {
  createdAt: number
  /** Milliseconds since the epoch; absolute end of the family. */
  expiresAt: number
  revoked: boolean
  /** Unexpired access tokens issued in this family (capped), revoked with it. */
  jtis: { jti: string; exp: number }[]
}

interface TokenRecord {
  familyId: string
  state: 'active' | 'rotated'
  rotatedAt?: number
  successor?: string
}

/**
 * What `inspect` read, handed back to `rotate` so a token request that validated first does not read
 * the same two records again: the rotation's compare-and-swap still decides against the live value.
 */
export interface RefreshSnapshot {
  readonly raw: string
  readonly family: FamilyRecord
}

export interface RefreshTokens {
  /** Starts a family for a new grant; `familyId` may be pre-generated (code redemption). */
  startFamily(grant: FamilyGrant, familyId?: string): Promise<{ token: string; familyId: string }>
  /**
   * Rotates `token` for `clientId`; throws `invalid_grant` for anything but a usable token. `seen` is
   * what `inspect` returned for the same token moments before (saves its two reads).
   */
  rotate(
    token: string,
    clientId: string,
    seen?: RefreshSnapshot,
  ): Promise<{ token: string; familyId: string; family: FamilyRecord }>
  /** The family of a known token (`active` is false once rotated), for /token, /introspect, /revoke. */
  inspect(
    token: string,
  ): Promise<
    | { familyId: string; family: FamilyRecord; active: boolean; snapshot: RefreshSnapshot }
    | undefined
  >
  /** Remembers an access token issued in the family (revokes it at once if the family is revoked). */
  recordAccessToken(familyId: string, jti: string, exp: number): Promise<void>
  /** Revokes the family and the access tokens it issued. Leaves a tombstone if it does not exist yet. */
  revokeFamily(familyId: string): Promise<void>
}

export interface RefreshTokensOptions {
  store: OAuthStore
  revoker: Revoker
  ttlSeconds: number
  graceSeconds: number
  /** A rotated token was replayed after the grace window; its family is already revoked. */
  onReuse?: (familyId: string, family: FamilyRecord) => Promise<void>
  clock?: Clock
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/
const MAX_JTIS = 50

const invalidGrant = (): OAuthError =>
  new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.')

export function createRefreshTokens(options: RefreshTokensOptions): RefreshTokens {
  const { store, revoker, ttlSeconds, graceSeconds } = options
  const clock = options.clock ?? Date.now
  const remaining = (family: FamilyRecord): number => Math.ceil((family.expiresAt - clock()) / 1000)
  const familyTtl = (family: FamilyRecord): number => Math.max(1, remaining(family))

  async function readFamily(familyId: string): Promise<FamilyRecord | undefined> {
    const family = parseRecord<FamilyRecord>(await store.get(keys.refreshFamily(familyId)))
    if (!family || family.revoked || family.expiresAt <= clock()) return undefined
    return family
  }

  async function revokeFamily(familyId: string): Promise<void> {
    const now = clock()
    let toRevoke: FamilyRecord['jtis'] = []
    await updateJson<FamilyRecord>(
      store,
      keys.refreshFamily(familyId),
      (f) => {
        toRevoke = f?.jtis ?? []
        if (f?.revoked) return undefined
        // A tombstone when the family is not written yet (a code replayed mid-redemption): the
        // redemption's `set ifAbsent` then fails and nothing is issued.
        const base: FamilyRecord = f ?? {
          clientId: '',
          sub: '',
          scope: '',
          aud: '',
          createdAt: now,
          expiresAt: now + ttlSeconds * 1000,
          revoked: true,
          jtis: [],
        }
        return { ...base, revoked: true, jtis: [] }
      },
      familyTtl,
    )
    await Promise.all(
      toRevoke
        .filter((j) => j.exp * 1000 > now)
        .map((j) => revoker.revokeAccessToken(j.jti, j.exp)),
    )
  }

  async function issue(familyId: string, ttl: number): Promise<{ token: string; hash: string }> {
    const token = randomToken(32)
    const hash = await sha256(token)
    const record: TokenRecord = { familyId, state: 'active' }
    await store.set(keys.refreshToken(hash), JSON.stringify(record), {
      ttlSeconds: ttl,
      ifAbsent: true,
    })
    return { token, hash }
  }

  return {
    revokeFamily,

    async startFamily(grant, familyId = randomToken(16)) {
      const now = clock()
      const family: FamilyRecord = {
        ...grant,
        createdAt: now,
        expiresAt: now + ttlSeconds * 1000,
        revoked: false,
        jtis: [],
      }
      const created = await store.set(keys.refreshFamily(familyId), JSON.stringify(family), {
        ttlSeconds,
        ifAbsent: true,
      })
      if (!created) throw new OAuthError('invalid_grant', 'The grant has been revoked.')
      const { token } = await issue(familyId, ttlSeconds)
      return { token, familyId }
    },

    async rotate(token, clientId, seen) {
      if (!TOKEN_SHAPE.test(token)) throw invalidGrant()
      const key = keys.refreshToken(await sha256(token))
      for (let attempt = 0; attempt < 4; attempt++) {
        const raw = attempt === 0 && seen ? seen.raw : await store.get(key)
        const record = parseRecord<TokenRecord>(raw)
        if (!record) throw invalidGrant()
        const family = attempt === 0 && seen ? seen.family : await readFamily(record.familyId)
        // RFC 6749 §6: the refresh token is bound to the client it was issued to.
        if (!family || family.clientId !== clientId) throw invalidGrant()
        const ttl = remaining(family)
        if (record.state === 'active') {
          const successor = await issue(record.familyId, ttl)
          const rotated: TokenRecord = {
            familyId: record.familyId,
            state: 'rotated',
            rotatedAt: clock(),
            successor: await seal(token, successor.token),
          }
          if (await store.compareAndSwap(key, raw, JSON.stringify(rotated), { ttlSeconds: ttl }))
            return { token: successor.token, familyId: record.familyId, family }
          // Lost the race to a concurrent rotation: drop our successor, re-read, take the grace path.
          await store.delete(keys.refreshToken(successor.hash))
          continue
        }
        const withinGrace =
          record.rotatedAt !== undefined && clock() - record.rotatedAt <= graceSeconds * 1000
        if (withinGrace && record.successor) {
          const successor = await unseal(token, record.successor)
          if (successor) return { token: successor, familyId: record.familyId, family }
        }
        // RFC 9700 §4.14.2: a rotated token presented again is a sign of theft.
        await revokeFamily(record.familyId)
        await options.onReuse?.(record.familyId, family)
        throw invalidGrant()
      }
      throw new OAuthError('temporarily_unavailable', 'Too many concurrent refreshes; retry.')
    },

    async inspect(token) {
      if (!TOKEN_SHAPE.test(token)) return undefined
      const raw = await store.get(keys.refreshToken(await sha256(token)))
      const record = parseRecord<TokenRecord>(raw)
      if (raw === null || !record) return undefined
      const family = await readFamily(record.familyId)
      if (!family) return undefined
      const snapshot = { raw, family }
      return { familyId: record.familyId, family, active: record.state === 'active', snapshot }
    },

    async recordAccessToken(familyId, jti, exp) {
      const nowSeconds = Math.floor(clock() / 1000)
      let revokedAlready = false
      await updateJson<FamilyRecord>(
        store,
        keys.refreshFamily(familyId),
        (f) => {
          revokedAlready = f?.revoked ?? false
          if (!f || f.revoked) return undefined
          const live = f.jtis.filter((j) => j.exp > nowSeconds)
          return { ...f, jtis: [...live, { jti, exp }].slice(-MAX_JTIS) }
        },
        familyTtl,
      )
      // The family was revoked between rotation and now: the token just issued must not outlive it.
      if (revokedAlready) await revoker.revokeAccessToken(jti, exp)
    },
  }
}
