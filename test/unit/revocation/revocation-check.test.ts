import { describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import { createRevocationSync } from '../../../src/revocation/edge-sync.ts'
import { createRevocationWriter } from '../../../src/revocation/records.ts'
import {
  createRevocationCheck,
  withRevocationCheck,
} from '../../../src/revocation/revocation-check.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { claimsOf, controlledStore, fakeClock, waitUntilCollector } from './support.ts'

async function setup(policy: 'open' | 'closed' = 'open') {
  const clock = fakeClock()
  const store = controlledStore(createMemoryStore({ now: clock }))
  const writer = createRevocationWriter({ store, now: clock, maxAccessTokenLifetimeSeconds: 900 })
  const sync = createRevocationSync({ store, now: clock, policy })
  const check = createRevocationCheck({ sync, store, now: clock })
  const bg = waitUntilCollector()
  const run = async (claims: Record<string, unknown>) => {
    sync.maybeSync(bg.waitUntil)
    try {
      await check(claimsOf(claims))
      return 'allowed'
    } catch (e) {
      return e instanceof AuthError ? e.code : 'other'
    }
  }
  const resync = async () => {
    clock.advance(2000)
    sync.maybeSync(bg.waitUntil)
    await bg.settle()
  }
  return { clock, store, writer, sync, check, run, resync, bg }
}

const iat = 1_750_000_000

describe('createRevocationCheck', () => {
  it('allows a token the filter does not list without any network call', async () => {
    const { store, sync, check } = await setup()
    await sync.syncNow()
    store.resetCalls()
    expect(check(claimsOf({ jti: 'fresh', sid: 's', sub: 'u' }))).toBeUndefined()
    expect(store.calls).toEqual({})
  })

  it('denies a revoked jti, sid, or subject (by iat) once synced', async () => {
    const { writer, run, resync } = await setup()
    await run({})
    await writer.revokeToken('j-1', iat + 600)
    await writer.revokeSession('s-1')
    await writer.revokeSubject('u-1', iat + 10)
    expect(await run({ jti: 'j-1' })).toBe('allowed') // not synced yet: within the bound
    await resync()
    expect(await run({ jti: 'j-1' })).toBe('token_revoked')
    expect(await run({ jti: 'j-2', sid: 's-1' })).toBe('token_revoked')
    expect(await run({ jti: 'j-3', sub: 'u-1', iat: iat + 9 })).toBe('token_revoked')
    expect(await run({ jti: 'j-4', sub: 'u-1', iat: iat + 10 })).toBe('allowed')
    expect(await run({ jti: 'j-5', sub: 'u-2', sid: 's-2' })).toBe('allowed')
  })

  it('confirms a hit in L2 once and reuses the answer briefly', async () => {
    const { clock, store, writer, run, resync } = await setup()
    await run({})
    await writer.revokeSubject('u-1', iat + 10)
    await resync()
    store.resetCalls()
    expect(await run({ jti: 'a', sub: 'u-1', iat: iat + 20 })).toBe('allowed')
    expect(await run({ jti: 'b', sub: 'u-1', iat: iat + 20 })).toBe('allowed')
    expect(store.calls.get).toBe(1)
    clock.advance(1000)
    expect(await run({ jti: 'c', sub: 'u-1', iat: iat + 20 })).toBe('allowed')
    expect(store.calls.get).toBe(2)
  })

  it('drops cached answers when the filter changes, so caching never delays a revocation', async () => {
    const { store, writer, run, resync } = await setup()
    await run({})
    await writer.revokeSubject('u-1', iat + 10)
    await resync()
    expect(await run({ jti: 'a', sub: 'u-1', iat: iat + 20 })).toBe('allowed') // cached: nb = iat+10
    await store.delete('rev:sub:u-1') // the record was raised: simulate by a fresh write
    await writer.revokeSubject('u-1', iat + 30)
    await resync()
    expect(await run({ jti: 'a', sub: 'u-1', iat: iat + 20 })).toBe('token_revoked')
  })

  it('answers 503 revocation_unavailable for a hit it cannot confirm, whatever the policy', async () => {
    const { store, writer, run, resync } = await setup('open')
    await run({})
    await writer.revokeToken('j-1', iat + 600)
    await resync()
    store.mode = 'down'
    expect(await run({ jti: 'j-1' })).toBe('revocation_unavailable')
    expect(await run({ jti: 'j-2' })).toBe('allowed') // a miss needs no L2
    const error = new AuthError('revocation_unavailable', 'x')
    expect([error.status, error.rfcError]).toEqual([503, 'temporarily_unavailable'])
  })

  it('policy closed: rejects every token once the filter is past maxStaleness', async () => {
    const { clock, store, run, bg } = await setup('closed')
    await run({})
    store.mode = 'down'
    clock.advance(30_000)
    expect(await run({ jti: 'a' })).toBe('allowed') // exactly at maxStaleness
    clock.advance(1)
    expect(await run({ jti: 'a' })).toBe('revocation_unavailable')
    store.mode = 'up'
    clock.advance(2000) // no failure within syncSeconds: this request syncs first
    expect(await run({ jti: 'a' })).toBe('allowed')
    await bg.settle()
  })

  it('policy open: keeps allowing filter misses and denying known revocations', async () => {
    const { clock, store, writer, run, resync } = await setup('open')
    await writer.revokeToken('j-1', iat + 600)
    await run({})
    await resync()
    store.mode = 'down'
    clock.advance(120_000)
    expect(await run({ jti: 'a' })).toBe('allowed')
    expect(await run({ jti: 'j-1' })).toBe('revocation_unavailable')
  })

  it('before the first successful load: closed rejects, open allows', async () => {
    const closed = await setup('closed')
    closed.store.mode = 'down'
    expect(await closed.run({ jti: 'a' })).toBe('revocation_unavailable')
    const open = await setup('open')
    open.store.mode = 'down'
    expect(await open.run({ jti: 'a' })).toBe('allowed')
  })

  it('skips ids that are not strings or are too long, instead of sending them to L2', async () => {
    const { store, sync, check } = await setup()
    await sync.syncNow()
    store.resetCalls()
    expect(check(claimsOf({ jti: 7, sid: 'x'.repeat(600), sub: null }))).toBeUndefined()
    expect(store.calls).toEqual({})
  })

  it('withRevocationCheck checks every verification, including cached ones', async () => {
    const { writer, sync, check, resync } = await setup()
    await sync.syncNow()
    const verified = claimsOf({ jti: 'j-7' })
    let calls = 0
    const cached = {
      verify: async () => {
        calls++
        return verified
      },
    }
    const verifier = withRevocationCheck(cached, check)
    await expect(verifier.verify('t')).resolves.toBe(verified)
    await writer.revokeToken('j-7', iat + 600)
    await resync()
    await expect(verifier.verify('t')).rejects.toMatchObject({ code: 'token_revoked' })
    expect(calls).toBe(2)
  })

  it('a miss remembered by one check never lets another check skip its own filter', async () => {
    // Two revocation states (say two tenants' at one edge), one verified token checked by both.
    const quiet = await setup()
    const revoking = await setup()
    await quiet.sync.syncNow()
    await revoking.writer.revokeToken('j-8', iat + 600)
    await revoking.sync.syncNow()
    expect(quiet.sync.epoch).toBe(revoking.sync.epoch) // the same epoch number on both sides
    const verified = claimsOf({ jti: 'j-8' })
    expect(quiet.check(verified)).toBeUndefined() // a miss, remembered for this token
    await expect(revoking.check(verified)).rejects.toMatchObject({ code: 'token_revoked' })
    expect(quiet.check(verified)).toBeUndefined()
    await expect(revoking.check(verified)).rejects.toMatchObject({ code: 'token_revoked' })
  })
})
