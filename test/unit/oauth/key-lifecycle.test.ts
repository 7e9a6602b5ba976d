/**
 * The origin's managed key set over a store, on a fake clock: the first key set (from the config's
 * keys or generated), two origins sharing one set, the schedule under the lease, activation by the
 * clock, unknown kids, L2 failures, and a damaged set left alone.
 */
import { describe, expect, it } from 'vitest'
import {
  createKeyLifecycle,
  type KeyLifecyclePolicy,
} from '../../../src/core/oauth/key-lifecycle.ts'
import {
  generateKeyEncryptionKey,
  importKeyEncryptionKeys,
} from '../../../src/core/oauth/key-wrap.ts'
import { OAuthError } from '../../../src/core/oauth/errors.ts'
import { keySetStoreKeys, parseKeySetDocument } from '../../../src/core/published-key-set.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { StoreError } from '../../../src/store/errors.ts'
import type { Store } from '../../../src/store/types.ts'
import { configKey } from './support.ts'

const ISSUER = 'https://issuer.test'
const policy: KeyLifecyclePolicy = {
  scheduled: true,
  alg: 'ES256',
  periodSeconds: 100,
  prePublishSeconds: 30,
  retainSeconds: 20,
  cacheSeconds: 5,
  checkSeconds: 1,
}
const KEK = generateKeyEncryptionKey('kek')

async function fleet(options: { down?: () => boolean } = {}) {
  let t = 1_000_000_000_000
  const clock = Object.assign(() => t, { advance: (s: number) => void (t += s * 1000) })
  const memory = createMemoryStore({ now: clock })
  const store: Store = new Proxy(memory, {
    get:
      (target, name: keyof Store) =>
      async (...args: never[]) => {
        if (options.down?.()) throw new StoreError('unavailable', String(name), 'unreachable')
        return (target[name] as (...a: never[]) => unknown)(...args)
      },
  })
  const keks = await importKeyEncryptionKeys([KEK])
  const origin = (extra: Partial<Parameters<typeof createKeyLifecycle>[0]> = {}) =>
    createKeyLifecycle({
      store,
      issuer: ISSUER,
      keks,
      policy,
      clock,
      sleep: async (ms) => clock.advance(ms / 1000),
      ...extra,
    })
  const read = async () => parseKeySetDocument(await memory.get(keySetStoreKeys(ISSUER).document))
  return { clock, memory, store, origin, read }
}

describe('managed key set', () => {
  it('seeds an empty store from the config keys, then ignores them', async () => {
    const f = await fleet()
    const a = f.origin({ seed: [configKey('ES256', 'retiring'), configKey('EdDSA', 'active')] })
    await a.start()
    expect(a.active.kid).toBe('test-eddsa')
    expect(a.all.map((k) => [k.kid, k.status])).toEqual([
      ['test-es256', 'retiring'],
      ['test-eddsa', 'active'],
    ])
    const b = f.origin({ seed: [configKey('RS256', 'active')] })
    await b.start()
    expect(b.active.kid).toBe('test-eddsa')
    expect((await f.read())?.keys.map((k) => k.kid)).toEqual(['test-es256', 'test-eddsa'])
  })

  it('two origins starting on an empty store agree on one generated key', async () => {
    const f = await fleet()
    const [a, b] = [f.origin(), f.origin()]
    await Promise.all([a.start(), b.start()])
    expect(a.active.kid).toBe(b.active.kid)
    expect((await f.read())?.keys).toHaveLength(1)
  })

  it('rotates on schedule: the successor is published before it signs, then every origin switches by the clock', async () => {
    const f = await fleet()
    const [a, b] = [f.origin(), f.origin({ policy: { ...policy, scheduled: false } })]
    await a.start()
    await b.start()
    const first = a.active.kid
    f.clock.advance(policy.periodSeconds - policy.prePublishSeconds)
    await a.tick()
    await b.tick()
    const next = b.all.find((k) => k.status === 'next')!
    expect(next).toBeDefined()
    expect(b.publicJwks().keys.map((k) => k.kid)).toContain(next.kid)
    expect(b.active.kid).toBe(first)
    f.clock.advance(20)
    await Promise.all([a.tick(), b.tick()])
    f.clock.advance(policy.prePublishSeconds - 20) // no read of L2: the clock alone switches
    expect(a.active.kid).toBe(next.kid)
    expect(b.active.kid).toBe(next.kid)
    // The old key stays published for the retention, then the lease holder prunes it.
    expect(b.publicJwks().keys.map((k) => k.kid)).toContain(first)
    await Promise.all([a.tick(), b.tick()])
    f.clock.advance(policy.retainSeconds)
    expect(b.publicJwks().keys.map((k) => k.kid)).not.toContain(first)
    await a.tick()
    expect((await f.read())?.keys.map((k) => k.kid)).toEqual([next.kid])
  })

  it('re-reads L2 for a kid it has not seen before answering "not ours"', async () => {
    const f = await fleet()
    const [a, b] = [f.origin(), f.origin()]
    await a.start()
    await b.start()
    // An emergency key written by another process after b's last read.
    f.clock.advance(policy.periodSeconds - policy.prePublishSeconds)
    await a.tick()
    const kid = a.all.find((k) => k.status === 'next')!.kid
    expect((await b.verificationKey(kid))?.kid).toBe(kid)
    expect(await b.verificationKey('not-ours')).toBeUndefined()
  })

  it('cannot tell while L2 is down: unavailable, never "not ours"; keeps signing meanwhile', async () => {
    let down = false
    const f = await fleet({ down: () => down })
    const a = f.origin()
    await a.start()
    down = true
    await expect(a.verificationKey('unknown-kid')).rejects.toThrow(OAuthError)
    expect(a.active.kid).toBeDefined()
    expect(a.status().lastError).not.toBeNull()
    // Not read for half the pre-publish lead: it could miss a successor, so it stops minting.
    f.clock.advance(policy.prePublishSeconds / 2 + 1)
    expect(() => a.active).toThrow(OAuthError)
    down = false
    await a.tick()
    expect(a.active.kid).toBeDefined()
  })

  it('never overwrites a damaged set, and refuses to start on one', async () => {
    const f = await fleet()
    await f.memory.set(keySetStoreKeys(ISSUER).document, '{"format":1,"keys":"oops"}')
    await expect(f.origin().start()).rejects.toThrow(/damaged/)
    expect(await f.memory.get(keySetStoreKeys(ISSUER).document)).toBe('{"format":1,"keys":"oops"}')
  })

  it('refuses to start with a KEK that cannot open the active key', async () => {
    const f = await fleet()
    await f.origin().start()
    const stranger = await importKeyEncryptionKeys([generateKeyEncryptionKey('kek')])
    await expect(f.origin({ keks: stranger }).start()).rejects.toThrow(/cannot be unwrapped/)
  })

  it('publishes the discovery metadata of the newest deploy with the set', async () => {
    const f = await fleet()
    await f.origin({ discovery: () => ({ issuer: ISSUER, scopes_supported: ['a'] }) }).start()
    await f.origin({ discovery: () => ({ issuer: ISSUER, scopes_supported: ['b'] }) }).start()
    expect((await f.read())?.discovery).toEqual({ issuer: ISSUER, scopes_supported: ['b'] })
  })
})
