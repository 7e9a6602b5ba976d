import { describe, expect, it } from 'vitest'
import {
  createRevocationReader,
  createRevocationWriter,
  isRevokedBy,
} from '../../../src/revocation/records.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { fakeClock } from './support.ts'

const NOW = 1_750_000_000_000 // ms; 1_750_000_000 s

function setup(overrides: { streamMaxLength?: number } = {}) {
  const clock = fakeClock(NOW)
  const store = createMemoryStore({ now: clock })
  const writer = createRevocationWriter({
    store,
    now: clock,
    maxAccessTokenLifetimeSeconds: 900,
    clockLeewaySeconds: 5,
    ...overrides,
  })
  return { clock, store, writer, reader: createRevocationReader({ store }) }
}

describe('createRevocationWriter', () => {
  it('writes rev:jti:<jti> with a TTL to exp + leeway, then a { kind, id } stream event', async () => {
    const { store, writer } = setup()
    expect(await writer.revokeToken('a1', NOW / 1000 + 300)).toBe(true)
    expect(await store.get('rev:jti:a1')).toBe(String(NOW / 1000))
    expect(await store.ttlMs('rev:jti:a1')).toBe(305_000)
    const events = await store.readStream('rev:stream', '0')
    expect(events.map((e) => e.fields)).toEqual([{ kind: 'jti', id: 'a1' }])
  })

  it('does nothing for a token that is past exp + leeway', async () => {
    const { store, writer } = setup()
    expect(await writer.revokeToken('old', NOW / 1000 - 6)).toBe(false)
    expect(await store.get('rev:jti:old')).toBeNull()
    expect(await store.readStream('rev:stream', '0')).toEqual([])
  })

  it('revokes a session for the longest token lifetime plus leeway', async () => {
    const { store, writer } = setup()
    await writer.revokeSession('s-1')
    expect(await store.ttlMs('rev:sid:s-1')).toBe(905_000)
    expect((await store.readStream('rev:stream', '0'))[0]?.fields).toEqual({
      kind: 'sid',
      id: 's-1',
    })
  })

  it('is idempotent: a second revoke keeps the first record and re-announces it', async () => {
    const { clock, store, writer } = setup()
    await writer.revokeToken('a1', NOW / 1000 + 300)
    clock.advance(10_000)
    await writer.revokeToken('a1', NOW / 1000 + 300)
    expect(await store.get('rev:jti:a1')).toBe(String(NOW / 1000))
    expect(await store.readStream('rev:stream', '0')).toHaveLength(2)
  })

  it('revokes a subject from the next whole second by default, keeping the later not-before', async () => {
    const { clock, store, writer } = setup()
    clock.advance(400) // mid-second: tokens minted earlier in this second carry iat = NOW/1000
    expect(await writer.revokeSubject('user-1')).toBe(NOW / 1000 + 1)
    expect(await store.ttlMs('rev:sub:user-1')).toBe((1 + 900 + 5) * 1000 - 400)
    // An older not-before does not lower it.
    expect(await writer.revokeSubject('user-1', NOW / 1000 - 100)).toBe(NOW / 1000 + 1)
    expect(await store.get('rev:sub:user-1')).toBe(String(NOW / 1000 + 1))
    clock.advance(5000)
    expect(await writer.revokeSubject('user-1')).toBe(NOW / 1000 + 6)
    expect(await store.readStream('rev:stream', '0')).toHaveLength(3)
  })

  it('rejects bad ids and times before touching the store', async () => {
    const { store, writer } = setup()
    await expect(writer.revokeToken('', 1)).rejects.toThrow(TypeError)
    await expect(writer.revokeToken('x'.repeat(513), NOW / 1000 + 60)).rejects.toThrow(TypeError)
    await expect(writer.revokeToken('\uD800', NOW / 1000 + 60)).rejects.toThrow(TypeError)
    await expect(writer.revokeToken('a', Number.NaN)).rejects.toThrow(TypeError)
    await expect(writer.revokeSession(42 as unknown as string)).rejects.toThrow(TypeError)
    await expect(writer.revokeSubject('u', NOW / 1000 + 3600)).rejects.toThrow(RangeError)
    await expect(writer.revokeSubject('u', 1.5)).rejects.toThrow(RangeError)
    expect(await store.readStream('rev:stream', '0')).toEqual([])
  })

  it('validates its options once', () => {
    const store = createMemoryStore()
    expect(() => createRevocationWriter({ store, maxAccessTokenLifetimeSeconds: 0 })).toThrow(
      RangeError,
    )
    expect(() =>
      createRevocationWriter({ store, maxAccessTokenLifetimeSeconds: 60, streamMaxLength: 10 }),
    ).toThrow(RangeError)
  })
})

describe('revocation decisions', () => {
  it('jti and sid records revoke outright; a sub record only tokens issued before it', () => {
    expect(isRevokedBy('jti', '1', {})).toBe(true)
    expect(isRevokedBy('sid', '1', {})).toBe(true)
    expect(isRevokedBy('jti', null, {})).toBe(false)
    expect(isRevokedBy('sub', '100', { iat: 99 })).toBe(true)
    expect(isRevokedBy('sub', '100', { iat: 100 })).toBe(false)
    expect(isRevokedBy('sub', '100', {})).toBe(true) // no iat: cannot prove it is newer
    expect(isRevokedBy('sub', 'garbage', { iat: 1e12 })).toBe(true) // a damaged record fails safe
  })

  it('the reader answers from L2 for all three kinds', async () => {
    const { writer, reader } = setup()
    const iat = NOW / 1000
    await writer.revokeToken('j', iat + 60)
    await writer.revokeSession('s')
    await writer.revokeSubject('u')
    expect(await reader.isRevoked({ jti: 'j' })).toBe(true)
    expect(await reader.isRevoked({ jti: 'other', sid: 's' })).toBe(true)
    expect(await reader.isRevoked({ jti: 'other', sub: 'u', iat })).toBe(true)
    expect(await reader.isRevoked({ jti: 'other', sub: 'u', iat: iat + 1 })).toBe(false)
    expect(await reader.isRevoked({ jti: 'other', sid: 'x', sub: 'v', iat })).toBe(false)
  })
})
