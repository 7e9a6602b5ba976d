/**
 * Users and the hosted login's credential check. Users come from the config (development and small
 * deployments); an upgraded password hash (rehash on login when the parameters are below current) is
 * written to the store and takes precedence, because the config file is read-only at runtime.
 *
 * The check is uniform: an unknown user, a disabled user and a wrong password give the same
 * `invalid_credentials`, and an unknown user still costs one hash verification (against a dummy hash)
 * so timing does not tell them apart. Attempts are counted per IP and per username (sliding windows,
 * login-limits.ts) before any password work is done; a refusal says how long to wait.
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
  const dummyHash = (): Promise<string> => (dummy ??= passwords.hash('gatehouse-dummy-password'))
  // Computed up front, so the first unknown-user attempt costs one hash like every other attempt.
  dummyHash().catch(() => (dummy = undefined))

  const limiter = createLoginLimiter({ store, clock: options.clock ?? Date.now })

  // An upgraded hash applies only while the config still holds the hash it replaced: an operator
  // who resets a password in the config must win over an old upgrade.
  const currentHash = async (u: UserConfig): Promise<string> => {
    const upgrade = parseRecord<StoredHash>(await store.get(keys.passwordHash(u.sub)))
    if (
      upgrade &&
      typeof upgrade.hash === 'string' &&
      upgrade.from === (await sha256(u.passwordHash))
    )
      return upgrade.hash
    return u.passwordHash
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
      const stored = user ? await currentHash(user) : undefined
      const ok = await passwords.verify(password, stored ?? (await dummyHash()))
      if (!user || !stored || !ok || user.disabled) throw new LoginError('invalid_credentials')
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
