/**
 * No user enumeration by timing (issue 21): a failed sign-in does the same work whoever the username
 * names — unknown, known with a current hash, known with a hash from older scrypt parameters, disabled,
 * or rate-limited. Tests hold no clock thresholds: they compare the work itself (which scrypt
 * parameters were run, which store operations were made). The time gap is measured by
 * `npm run bench:login` (bench/login-timing.bench.ts).
 */
import { describe, expect, it } from 'vitest'
import type { PasswordHasher } from '../../../src/core/oauth/password.ts'
import { createUserDirectory, LoginError } from '../../../src/core/oauth/users.ts'
import { createScryptHasher } from '../../../src/entry/password.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'

const legacy = createScryptHasher({ ln: 10 })
const current = createScryptHasher({ ln: 11 })

/** Records the parameters of every scrypt run and every store call; the hashing itself is real. */
function ledger() {
  const work: string[] = []
  const params = (encoded: string) => /^\$scrypt\$([^$]+)\$/.exec(encoded)?.[1] ?? 'malformed'
  const passwords: PasswordHasher = {
    hash: async (password) => {
      const encoded = await current.hash(password)
      work.push(`hash ${params(encoded)}`)
      return encoded
    },
    verify: async (password, encoded) => {
      work.push(`verify ${params(encoded)}`)
      return current.verify(password, encoded)
    },
    needsRehash: (encoded) => current.needsRehash(encoded),
    cost: (encoded) => current.cost(encoded),
  }
  const memory = createMemoryStore()
  const store = new Proxy(memory, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function' || typeof property !== 'string') return value
      return (...args: unknown[]) => {
        work.push(`store ${property}`)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  }) as Store
  return { work, passwords, store }
}

async function directory(limit = 100) {
  const l = ledger()
  const users = createUserDirectory({
    users: [
      {
        sub: 'u-cur',
        username: 'carol',
        passwordHash: await current.hash('pw'),
        claims: {},
        disabled: false,
      },
      {
        sub: 'u-old',
        username: 'olga',
        passwordHash: await legacy.hash('pw'),
        claims: {},
        disabled: false,
      },
      {
        sub: 'u-off',
        username: 'dave',
        passwordHash: await current.hash('pw'),
        claims: {},
        disabled: true,
      },
    ],
    store: l.store,
    passwords: l.passwords,
    rateLimits: {
      loginPerIp: { limit: 1000, windowSeconds: 60 },
      loginPerUsername: { limit, windowSeconds: 60 },
    },
  })
  // Start-up work (the dummy hash) is done before anyone is measured.
  await users.authenticate({ username: 'warm-up', password: 'x', ip: 'w' }).catch(() => {})
  return { users, work: l.work }
}

/** The work one failed attempt did, order-free. */
async function failedAttempt(
  d: Awaited<ReturnType<typeof directory>>,
  username: string,
  password = 'wrong',
): Promise<{ code: string; work: string[] }> {
  d.work.length = 0
  const error = await d.users
    .authenticate({ username, password, ip: '192.0.2.7' })
    .catch((e: unknown) => e)
  expect(error).toBeInstanceOf(LoginError)
  return { code: (error as LoginError).code, work: [...d.work].sort() }
}

describe('failed sign-ins do the same work for every username', () => {
  it('unknown, current-hash, older-hash and disabled users: same scrypt runs, same store calls', async () => {
    const d = await directory()
    const unknown = await failedAttempt(d, 'nobody')
    expect(unknown.code).toBe('invalid_credentials')
    for (const name of ['carol', 'olga', 'dave']) {
      const known = await failedAttempt(d, name, name === 'dave' ? 'pw' : 'wrong')
      expect(known, name).toEqual(unknown)
    }
  })

  it('after an upgrade on successful sign-in, the upgraded user still costs the same', async () => {
    const d = await directory()
    await d.users.authenticate({ username: 'olga', password: 'pw', ip: '192.0.2.7' })
    const unknown = await failedAttempt(d, 'nobody')
    expect(await failedAttempt(d, 'olga')).toEqual(unknown)
  })

  it('when the per-username limit trips, known and unknown usernames cost the same', async () => {
    const d = await directory(1)
    for (const name of ['carol', 'olga', 'nobody']) await failedAttempt(d, name)
    const unknown = await failedAttempt(d, 'nobody')
    expect(unknown.code).toBe('rate_limited')
    for (const name of ['carol', 'olga'])
      expect(await failedAttempt(d, name), name).toEqual(unknown)
  })
})
