/** scrypt hashing (src/entry/password.ts) and the login's rehash-on-upgrade. */
import { describe, expect, it } from 'vitest'
import { createScryptHasher } from '../../../src/entry/password.ts'
import type { PasswordHasher } from '../../../src/core/oauth/password.ts'
import { createUserDirectory, DUMMY_PASSWORD, LoginError } from '../../../src/core/oauth/users.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'

describe('createScryptHasher', () => {
  const weak = createScryptHasher({ ln: 10 })

  it('produces a self-describing hash and verifies it', async () => {
    const encoded = await weak.hash('s3cret')
    expect(encoded).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    expect(await weak.verify('s3cret', encoded)).toBe(true)
    expect(await weak.verify('s3cret ', encoded)).toBe(false)
    expect(await weak.hash('s3cret')).not.toBe(encoded)
  })

  it('refuses malformed hashes and absurd parameters without running them', async () => {
    expect(await weak.verify('x', 'plain')).toBe(false)
    expect(
      await weak.verify('x', '$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$' + 'A'.repeat(43)),
    ).toBe(false)
  })

  it('defaults to the OWASP parameters and flags weaker hashes for rehash', async () => {
    const current = createScryptHasher({ ln: 11 })
    expect(current.needsRehash(await weak.hash('x'))).toBe(true)
    expect(current.needsRehash(await current.hash('x'))).toBe(false)
    expect(createScryptHasher().needsRehash(await current.hash('x'))).toBe(true)
  })
})

describe('an unmatchable hash for unknown users, made without hashing', () => {
  const current = createScryptHasher({ ln: 11 })

  it('has the current parameters and cost, and no password matches it', async () => {
    const dummy = current.unmatchable?.() ?? ''
    expect(dummy).toMatch(/^\$scrypt\$ln=11,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    expect(current.needsRehash(dummy)).toBe(false)
    expect(current.cost(dummy)).toBe(current.cost(await current.hash('x')))
    expect(await current.verify(DUMMY_PASSWORD, dummy)).toBe(false)
    expect(await current.verify('', dummy)).toBe(false)
    expect(current.unmatchable?.()).not.toBe(dummy)
  })

  it('is what an unknown username is verified against; nothing is hashed at start', async () => {
    const work: string[] = []
    const passwords: PasswordHasher = {
      hash: async (password) => {
        work.push('hash')
        return current.hash(password)
      },
      verify: async (password, encoded) => {
        work.push(`verify ${encoded === dummy ? 'unmatchable' : 'other'}`)
        return current.verify(password, encoded)
      },
      needsRehash: (encoded) => current.needsRehash(encoded),
      cost: (encoded) => current.cost(encoded),
      unmatchable: () => dummy,
    }
    const dummy = current.unmatchable?.() ?? ''
    const users = createUserDirectory({
      users: [],
      store: createMemoryStore(),
      passwords,
      rateLimits: {
        loginPerIp: { limit: 100, windowSeconds: 60 },
        loginPerUsername: { limit: 100, windowSeconds: 60 },
      },
    })
    expect(work).toEqual([])
    const refused = await users
      .authenticate({ username: 'nobody', password: DUMMY_PASSWORD, ip: 'a' })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(LoginError)
    expect(work).toEqual(['verify unmatchable'])
  })
})

describe('rehash on login (createUserDirectory)', () => {
  const weak = createScryptHasher({ ln: 10 })
  const current = createScryptHasher({ ln: 11 })
  const rateLimits = {
    loginPerIp: { limit: 100, windowSeconds: 60 },
    loginPerUsername: { limit: 100, windowSeconds: 60 },
  }
  const user = async (password: string) => ({
    sub: 'u1',
    username: 'Bob',
    passwordHash: await weak.hash(password),
    claims: {},
    disabled: false,
  })

  it('replaces a weaker hash in the store and keeps accepting the password', async () => {
    const store = createMemoryStore()
    const users = createUserDirectory({
      users: [await user('pw-1')],
      store,
      passwords: current,
      rateLimits,
    })
    await users.authenticate({ username: 'bob', password: 'pw-1', ip: 'a' })
    const stored = JSON.parse((await store.get('oauth:pw:u1'))!) as { hash: string }
    expect(stored.hash).toMatch(/^\$scrypt\$ln=11,/)
    await expect(
      users.authenticate({ username: 'BOB', password: 'pw-1', ip: 'a' }),
    ).resolves.toMatchObject({ sub: 'u1' })
    await expect(
      users.authenticate({ username: 'bob', password: 'pw-2', ip: 'a' }),
    ).rejects.toThrow(LoginError)
  })

  it('an operator reset in the config wins over an earlier upgrade', async () => {
    const store = createMemoryStore()
    const before = createUserDirectory({
      users: [await user('old')],
      store,
      passwords: current,
      rateLimits,
    })
    await before.authenticate({ username: 'bob', password: 'old', ip: 'a' })
    const after = createUserDirectory({
      users: [await user('new')],
      store,
      passwords: current,
      rateLimits,
    })
    await expect(after.authenticate({ username: 'bob', password: 'old', ip: 'a' })).rejects.toThrow(
      LoginError,
    )
    await expect(
      after.authenticate({ username: 'bob', password: 'new', ip: 'a' }),
    ).resolves.toMatchObject({ sub: 'u1' })
  })

  it('a disabled user gets the uniform error', async () => {
    const users = createUserDirectory({
      users: [{ ...(await user('pw')), disabled: true }],
      store: createMemoryStore(),
      passwords: weak,
      rateLimits,
    })
    const error = await users
      .authenticate({ username: 'bob', password: 'pw', ip: 'a' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as LoginError).code).toBe('invalid_credentials')
  })
})
