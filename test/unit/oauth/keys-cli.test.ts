/**
 * `gatehouse keys list|rotate|retire|revoke` against the key set an origin follows (memory store,
 * fake clock): what each verb changes, what it refuses, and what the origin then does.
 */
import { describe, expect, it } from 'vitest'
import { keysList, keysRetire, keysRevoke, keysRotate } from '../../../src/cli/keys.ts'
import { createOriginKeySet } from '../../../src/core/oauth/jwks-publication.ts'
import { generateKeyEncryptionKey } from '../../../src/core/oauth/key-wrap.ts'
import { KeyScheduleError } from '../../../src/core/oauth/key-schedule.ts'
import { parseOAuthConfig } from '../../../src/core/oauth/config.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { configKey, testConfig } from './support.ts'

async function setup() {
  let t = 1_700_000_000_000
  const clock = Object.assign(() => t, { advance: (s: number) => void (t += s * 1000) })
  const store = createMemoryStore({ now: clock })
  const raw = {
    ...(await testConfig({ keys: [configKey('ES256', 'active')] })),
    keyEncryptionKeys: [generateKeyEncryptionKey('kek')],
    keyRotation: { cacheSeconds: 30 },
  }
  const config = parseOAuthConfig(raw)
  const origin = await createOriginKeySet({
    config,
    store,
    production: false,
    log: () => {},
    clock,
  })
  await origin.start()
  const text = JSON.stringify(raw)
  const warnings: string[] = []
  const deps = { store, clock, readFile: async () => text, warn: (l: string) => warnings.push(l) }
  const env = { GATEHOUSE_CONFIG: 'config.json' }
  return { clock, store, origin, deps, env, warnings }
}

describe('gatehouse keys (L2)', () => {
  it('list shows every key with its status and times', async () => {
    const s = await setup()
    const listed = await keysList([], s.env, s.deps)
    expect(listed.keys).toEqual([
      expect.objectContaining({ kid: 'test-es256', alg: 'ES256', status: 'active' }),
    ])
    expect(JSON.stringify(listed)).not.toContain('wrapped')
  })

  it('rotate publishes a key that signs after the minimum lead; the origin follows', async () => {
    const s = await setup()
    const rotated = await keysRotate([], s.env, s.deps)
    expect(rotated.keys.map((k) => k.status)).toEqual(['active', 'next'])
    await expect(keysRotate(['--activate-in', '5'], s.env, s.deps)).rejects.toThrow(
      KeyScheduleError,
    )
    await s.origin.tick()
    s.clock.advance(60) // 2 × cacheSeconds
    expect(s.origin.active.kid).toBe(rotated.rotated)
  })

  it('retire is refused while tokens can be live; --force says what breaks', async () => {
    const s = await setup()
    await keysRotate([], s.env, s.deps)
    s.clock.advance(60)
    await expect(keysRetire(['test-es256'], s.env, s.deps)).rejects.toThrow(/valid for up to/)
    const forced = await keysRetire(['test-es256', '--force'], s.env, s.deps)
    expect(forced.tokensBrokenUntil).toBeDefined()
    expect(s.warnings.join()).toMatch(/now fail verification/)
    await s.origin.tick()
    expect(s.origin.publicJwks().keys.map((k) => k.kid)).not.toContain('test-es256')
  })

  it('revoke: a kid revocation record for the edges, and a replacement signs at once', async () => {
    const s = await setup()
    const revoked = await keysRevoke(['test-es256'], s.env, s.deps)
    expect(revoked.keys.find((k) => k.kid === 'test-es256')?.status).toBe('revoked')
    expect(await s.store.get('rev:kid:test-es256')).not.toBeNull()
    const events = await s.store.readStream('rev:stream', '0')
    expect(events.map((e) => e.fields)).toContainEqual({ kind: 'kid', id: 'test-es256' })
    await s.origin.tick()
    expect(s.origin.active.kid).not.toBe('test-es256')
    expect(s.origin.publicJwks().keys.map((k) => k.kid)).not.toContain('test-es256')
    // Again: idempotent.
    await expect(keysRevoke(['test-es256'], s.env, s.deps)).resolves.toBeDefined()
  })
})
