import { generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import {
  createRemoteKeySet,
  createStaticKeySet,
  type KeySet,
  type RemoteKeySetOptions,
} from '../../../src/core/jwks.ts'
import { privateJwks, publicJwk, publicJwks } from '../../fixtures/keys.ts'
import { omit } from './helpers.ts'

const URL_ = 'https://issuer.test/jwks.json'

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(AuthError)
  return (error as AuthError).code
}

describe('createStaticKeySet', () => {
  it('selects by kid and alg', async () => {
    const keys = await createStaticKeySet(publicJwks())
    const key = await keys.getKey('test-es256', 'ES256')
    expect(key).toMatchObject({ kid: 'test-es256', alg: 'ES256' })
    expect(key.jwk).not.toHaveProperty('d')
    expect(await codeOf(keys.getKey('test-es256', 'ES384'))).toBe('alg_not_allowed')
    expect(await codeOf(keys.getKey('test-es256', 'HS256'))).toBe('alg_not_allowed')
    expect(await codeOf(keys.getKey('nope', 'ES256'))).toBe('kid_unknown')
    expect(await codeOf(keys.getKey(undefined, 'none'))).toBe('alg_not_allowed')
  })

  it('refuses private keys, duplicate kids, weak or malformed keys, and empty sets', async () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'jwk',
    })
    const bad: [string, unknown[]][] = [
      ['private EC key', [privateJwks.ES256]],
      ['private RSA key', [privateJwks.RS256]],
      ['duplicate kid', [publicJwk('ES256'), { ...publicJwk('ES384'), kid: 'test-es256' }]],
      ['1024-bit RSA', [{ ...rsa1024, alg: 'RS256' }]],
      ['alg contradicting the curve', [{ ...publicJwk('ES256'), alg: 'ES384' }]],
      ['RSA key without alg or configuration', [{ ...publicJwk('RS256'), alg: undefined }]],
      ['bad base64url', [{ ...publicJwk('ES256'), x: 'a+b' }]],
      ['nothing usable', [{ ...publicJwk('ES256'), use: 'enc' }]],
    ]
    for (const [why, keys] of bad) {
      await expect(createStaticKeySet({ keys }), why).rejects.toThrow(TypeError)
    }
    await expect(createStaticKeySet({} as { keys: unknown[] })).rejects.toThrow(TypeError)
  })

  it('skips keys not meant for signatures and unsupported types', async () => {
    const keys = await createStaticKeySet({
      keys: [
        { ...publicJwk('ES384'), use: 'enc' },
        { ...publicJwk('ES384'), kid: 'ops', key_ops: ['encrypt'] },
        { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI', alg: 'HS256', kid: 'hmac' },
        { kty: 'EC', crv: 'P-521', x: 'AA', y: 'AA', kid: 'p521' },
        publicJwk('ES256'),
      ],
    })
    expect(await codeOf(keys.getKey('test-es384', 'ES384'))).toBe('kid_unknown')
    expect(await codeOf(keys.getKey('hmac', 'HS256'))).toBe('kid_unknown')
    await expect(keys.getKey('test-es256', 'ES256')).resolves.toBeDefined()
  })

  it('binds an RSA key to each configured algorithm separately', async () => {
    const jwk = omit(publicJwk('RS256'), 'alg')
    const keys = await createStaticKeySet(
      { keys: [jwk] },
      { algorithms: { 'test-rs256': ['RS256', 'PS256'] } },
    )
    const rs = await keys.getKey('test-rs256', 'RS256')
    const ps = await keys.getKey('test-rs256', 'PS256')
    expect(rs.cryptoKey.algorithm.name).toBe('RSASSA-PKCS1-v1_5')
    expect(ps.cryptoKey.algorithm.name).toBe('RSA-PSS')
    expect(await codeOf(keys.getKey('test-rs256', 'RS384'))).toBe('alg_not_allowed')
  })
})

/** A network double: serves a JWKS (or a failure) and counts calls. */
function stubFetch(initial: unknown = publicJwks()) {
  const state = { body: initial as unknown, status: 200, calls: 0, hang: false }
  const fetch = vi.fn(async (_input: unknown, init?: RequestInit) => {
    state.calls++
    if (state.hang) {
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new Error('aborted')))
      })
    }
    const text = typeof state.body === 'string' ? state.body : JSON.stringify(state.body)
    return new Response(text, { status: state.status })
  })
  return { state, fetch: fetch as unknown as typeof globalThis.fetch }
}

describe('createRemoteKeySet', () => {
  afterEach(() => vi.useRealTimers())

  function setup(options: RemoteKeySetOptions = {}, body?: unknown) {
    const net = stubFetch(body)
    const clock = { now: 1_000_000 }
    const keys: KeySet = createRemoteKeySet(URL_, {
      fetch: net.fetch,
      now: () => clock.now,
      ...options,
    })
    return { ...net, clock, keys }
  }

  it('fetches once, then serves from cache until the refresh interval', async () => {
    const { state, clock, keys } = setup()
    expect(state.calls).toBe(0) // nothing at construction
    await keys.getKey('test-es256', 'ES256')
    await keys.getKey('test-eddsa', 'EdDSA')
    clock.now += 299_999
    await keys.getKey('test-es256', 'ES256')
    expect(state.calls).toBe(1)
    clock.now += 1
    await keys.getKey('test-es256', 'ES256')
    expect(state.calls).toBe(2)
  })

  it('refetches on an unknown kid at most once per cooldown', async () => {
    const { state, clock, keys } = setup(
      { unknownKidCooldownSeconds: 30 },
      { keys: [publicJwk('ES256')] },
    )
    await keys.getKey('test-es256', 'ES256')
    expect(state.calls).toBe(1)
    // Right after a fetch: no refetch for an unknown kid.
    expect(await codeOf(keys.getKey('test-eddsa', 'EdDSA'))).toBe('kid_unknown')
    expect(state.calls).toBe(1)
    // A rotated key appears; after the cooldown one unknown kid triggers one fetch and succeeds.
    state.body = publicJwks()
    clock.now += 30_000
    await expect(keys.getKey('test-eddsa', 'EdDSA')).resolves.toMatchObject({ alg: 'EdDSA' })
    expect(state.calls).toBe(2)
    // A flood of unknown kids within the cooldown costs no fetch.
    for (let i = 0; i < 50; i++)
      expect(await codeOf(keys.getKey(`bad-${i}`, 'ES256'))).toBe('kid_unknown')
    expect(state.calls).toBe(2)
    clock.now += 30_000
    expect(await codeOf(keys.getKey('still-bad', 'ES256'))).toBe('kid_unknown')
    expect(state.calls).toBe(3)
  })

  it('keeps the last good keys when a refresh fails, and retries only after the cooldown', async () => {
    const { state, clock, keys } = setup()
    await keys.getKey('test-es256', 'ES256')
    for (const failure of [
      { status: 500 },
      { body: 'not json' },
      { body: { keys: [] } },
      { body: [] },
    ]) {
      Object.assign(state, { status: 200, body: publicJwks() }, failure)
      clock.now += 300_000
      const before = state.calls
      await expect(keys.getKey('test-es256', 'ES256')).resolves.toBeDefined()
      expect(state.calls).toBe(before + 1)
      // Within the cooldown after the failed attempt: no new fetch, still the old keys.
      clock.now += 10_000
      await expect(keys.getKey('test-es256', 'ES256')).resolves.toBeDefined()
      expect(state.calls).toBe(before + 1)
    }
  })

  it('reports jwks_unavailable with no keys yet, and does not hammer a failing endpoint', async () => {
    const { state, clock, keys } = setup()
    state.status = 503
    expect(await codeOf(keys.getKey('test-es256', 'ES256'))).toBe('jwks_unavailable')
    expect(await codeOf(keys.getKey('test-es256', 'ES256'))).toBe('jwks_unavailable')
    expect(state.calls).toBe(1)
    state.status = 200
    clock.now += 30_000
    await expect(keys.getKey('test-es256', 'ES256')).resolves.toBeDefined()
    expect(state.calls).toBe(2)
  })

  it('aborts a fetch after the timeout', async () => {
    vi.useFakeTimers()
    const { state, keys } = setup({ timeoutMs: 3000 })
    state.hang = true
    const pending = codeOf(keys.getKey('test-es256', 'ES256'))
    await vi.advanceTimersByTimeAsync(2999)
    let settled = false
    void pending.then(() => (settled = true))
    await vi.advanceTimersByTimeAsync(0)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await pending).toBe('jwks_unavailable')
  })

  it('shares one fetch among callers in the same tick, but not with later ones', async () => {
    const { state, keys } = setup()
    await Promise.all([
      keys.getKey('test-es256', 'ES256'),
      keys.getKey('test-es384', 'ES384'),
      keys.getKey('test-eddsa', 'EdDSA'),
    ])
    expect(state.calls).toBe(1)
  })

  it('drops keys that are private, duplicated or malformed, and keeps the rest', async () => {
    const body = {
      keys: [
        privateJwks.ES384,
        { ...publicJwk('RS256'), kid: 'dup' },
        { ...publicJwk('PS256'), kid: 'dup' },
        { ...publicJwk('EdDSA'), x: 'short' },
        publicJwk('ES256'),
      ],
    }
    const { keys } = setup({}, body)
    await expect(keys.getKey('test-es256', 'ES256')).resolves.toBeDefined()
    expect(await codeOf(keys.getKey('test-es384', 'ES384'))).toBe('kid_unknown')
    expect(await codeOf(keys.getKey('dup', 'RS256'))).toBe('kid_unknown')
    expect(await codeOf(keys.getKey('test-eddsa', 'EdDSA'))).toBe('kid_unknown')
  })

  it('refuses oversized responses', async () => {
    const { keys } = setup({ maxResponseBytes: 100 })
    expect(await codeOf(keys.getKey('test-es256', 'ES256'))).toBe('jwks_unavailable')
  })

  it('validates its options at construction', () => {
    expect(() => createRemoteKeySet('http://issuer.test/jwks')).toThrow(TypeError)
    expect(() => createRemoteKeySet('not a url')).toThrow(TypeError)
    expect(() => createRemoteKeySet('http://127.0.0.1:8788/jwks')).not.toThrow()
    expect(() => createRemoteKeySet(URL_, { timeoutMs: 0 })).toThrow(RangeError)
    expect(() => createRemoteKeySet(URL_, { refreshIntervalSeconds: Number.NaN })).toThrow(
      RangeError,
    )
    expect(() => createRemoteKeySet(URL_, { unknownKidCooldownSeconds: -1 })).toThrow(RangeError)
  })
})
