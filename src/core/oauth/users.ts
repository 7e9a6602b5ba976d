/**
 * Users and the hosted login's credential check. Users come from the config (development and small
 * deployments); an upgraded password hash (rehash on login when the parameters are below current) is
 * written to the store and takes precedence, because the config file is read-only at runtime.
 *
 * The check is uniform: an unknown user, a disabled user and a wrong password give the same
 * `invalid_credentials`, and every failed attempt does the same work, so timing does not tell which
 * usernames exist: one store read (the upgraded hash; for an unknown user, a key no user has) and the
 * same scrypt runs — one at the current parameters (against a dummy hash made at start for an unknown
 * user: the hasher's `unmatchable()` when it has one, so no KDF runs at start) and, while the config
 * still holds hashes made with older parameters, one at the costliest of those (a user with such a hash runs it for real and the current-parameters dummy as the other; on
 * success the rehash to current parameters takes the dummy's place, so sign-in costs no more).
 * (`npm run bench:login` measures it: docs/origin.md has the numbers, before and after.) Attempts are
 * counted per IP and per username (sliding windows, login-limits.ts) before any lookup or password
 * work, so a tripped limit costs the same for every username too; a refusal says how long to wait.
 *
 * @example
 * const users = createUserDirectory({ users: config.users, store, passwords, rateLimits })
 * const user = await users.authenticate({ username, password, ip }) // throws LoginError
 */
import { GatehouseError } from '../errors.ts'
import type { Clock } from '../types.ts'
import type { OAuthConfig, UserConfig } from './config.ts'
import { sha256 } from './crypto.ts'
import { createLoginLimiter } from './login-limits.ts'
import type { PasswordHasher } from './password.ts'
import { keys, parseRecord, type OAuthStore } from './store.ts'

interface StoredHash {
  from: string
  hash: string
}

export type LoginErrorCode = 'invalid_credentials' | 'rate_limited'

/** A failed sign-in: 400 for bad credentials, 429 with the real wait when rate-limited. */
export class LoginError extends GatehouseError {
  override readonly name: string = 'LoginError'
  declare readonly code: LoginErrorCode

  constructor(code: 'invalid_credentials')
  constructor(code: 'rate_limited', retryAfterSeconds: number)
  constructor(code: LoginErrorCode, retryAfterSeconds?: number) {
    const limited = code === 'rate_limited'
    super({
      code,
      description: limited ? 'Too many sign-in attempts.' : 'Invalid username or password.',
      status: limited ? 429 : 400,
      rfcError: limited ? 'slow_down' : 'access_denied',
      ...(limited ? { retryAfterSeconds: retryAfterSeconds ?? 1 } : {}),
    })
  }
}

/** What unknown usernames are checked against; a hasher may share its hash (src/tenancy/). */
export const DUMMY_PASSWORD = 'gatehouse-dummy-password'

export interface User {
  sub: string
  username: string
  claims: Readonly<Record<string, string | number | boolean>>
}

export interface UserDirectory {
  bySub(sub: string): User | undefined
  authenticate(input: { username: string; password: string; ip: string }): Promise<User>
}

export interface UserDirectoryOptions {
  users: readonly UserConfig[]
  store: OAuthStore
  passwords: PasswordHasher
  rateLimits: OAuthConfig['rateLimits']
  /** Milliseconds since the epoch, for the rate-limit windows. Default `Date.now`. */
  clock?: Clock
  /** Called (never with the password) when a stored hash was upgraded or could not be. */
  onRehash?: (sub: string, ok: boolean) => void
}

const normalise = (username: string): string => username.normalize('NFC').toLowerCase()

export function createUserDirectory(options: UserDirectoryOptions): UserDirectory {
  const { store, passwords, rateLimits } = options
  const byName = new Map(options.users.map((u) => [normalise(u.username), u]))
  const bySub = new Map(options.users.map((u) => [u.sub, u]))
  let dummy: Promise<string> | undefined
  const dummyHash = (): Promise<string> =>
    (dummy ??= passwords.unmatchable
      ? Promise.resolve(passwords.unmatchable())
      : passwords.hash(DUMMY_PASSWORD))
  // Made up front, so the first unknown-user attempt costs one hash like every other attempt.
  dummyHash().catch(() => (dummy = undefined))
  // The costliest configured hash made with older parameters: everyone else runs it as well.
  const olderHashes = options.users
    .map((u) => ({ hash: u.passwordHash, cost: passwords.cost(u.passwordHash) }))
    .filter((h) => h.cost !== undefined && passwords.needsRehash(h.hash))
  const costliestOlder = olderHashes.sort((a, b) => (b.cost ?? 0) - (a.cost ?? 0))[0]?.hash
  // The store key an unknown username reads, so it makes the same round trip as a known one.
  const absentSub = `absent-${crypto.randomUUID()}`

  const limiter = createLoginLimiter({ store, clock: options.clock ?? Date.now })

  // An upgraded hash applies only while the config still holds the hash it replaced: an operator
  // who resets a password in the config must win over an old upgrade.
  const currentHash = async (u: UserConfig | undefined): Promise<string | undefined> => {
    const upgrade = parseRecord<StoredHash>(await store.get(keys.passwordHash(u?.sub ?? absentSub)))
    const configured = await sha256(u?.passwordHash ?? absentSub)
    if (!u) return undefined
    if (upgrade && typeof upgrade.hash === 'string' && upgrade.from === configured)
      return upgrade.hash
    return u.passwordHash
  }

  /**
   * The other half of every failed attempt's work, after the verification against `primary`: a run
   * at the current parameters when `primary` was older, else one at the costliest older ones. (A
   * successful attempt with an older hash runs the current parameters as its rehash instead.)
   */
  const padFailure = async (password: string, primary: string): Promise<void> => {
    if (passwords.needsRehash(primary)) await passwords.verify(password, await dummyHash())
    else if (costliestOlder !== undefined) await passwords.verify(password, costliestOlder)
  }

  const view = (u: UserConfig): User => ({ sub: u.sub, username: u.username, claims: u.claims })

  return {
    bySub: (sub) => {
      const u = bySub.get(sub)
      return u && !u.disabled ? view(u) : undefined
    },
    async authenticate({ username, password, ip }) {
      const name = normalise(username)
      // Count first, so a flood is refused before it costs a hash. Username keyed by digest.
      const [byIp, byUser] = await Promise.all([
        limiter.hit('ip', await sha256(ip), rateLimits.loginPerIp),
        limiter.hit('user', await sha256(name), rateLimits.loginPerUsername),
      ])
      const waits = [byIp, byUser].flatMap((d) => (d.allowed ? [] : [d.retryAfterSeconds]))
      if (waits.length > 0) throw new LoginError('rate_limited', Math.max(...waits))
      const user = byName.get(name)
      const stored = await currentHash(user)
      const primary = stored ?? (await dummyHash())
      const ok = await passwords.verify(password, primary)
      if (!user || !stored || !ok || user.disabled) {
        await padFailure(password, primary)
        throw new LoginError('invalid_credentials')
      }
      if (passwords.needsRehash(stored)) {
        try {
          const upgrade: StoredHash = {
            from: await sha256(user.passwordHash),
            hash: await passwords.hash(password),
          }
          await store.set(keys.passwordHash(user.sub), JSON.stringify(upgrade))
          options.onRehash?.(user.sub, true)
        } catch {
          options.onRehash?.(user.sub, false)
        }
      }
      return view(user)
    },
  }
}
