/**
 * The edge's key source: the published set from L2 first, the configured source only while L2 has
 * nothing for this issuer, the last good copy while L2 is down (and saying so), a 503 when nothing
 * can be had.
 */
import { describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import { createStaticKeySet, type KeySet } from '../../../src/core/jwks.ts'
import { createPublishedKeySource } from '../../../src/core/published-key-source.ts'
import { publicJwks, TEST_ISSUER } from '../../fixtures/keys.ts'
import { fixtureKeySet, fixtureRecord } from '../../support/key-set.ts'

function source(options: { fallback?: KeySet } = {}) {
  let t = 1_000_000_000_000
  const clock = Object.assign(() => t, { advance: (s: number) => void (t += s * 1000) })
  const l2 = { value: null as string | null, down: false, reads: 0 }
  const keys = createPublishedKeySource({
    issuer: TEST_ISSUER,
    read: async () => {
      l2.reads++
      if (l2.down) throw new Error('unreachable')
      return l2.value
    },
    now: clock,
    ...options,
  })
  return { keys, l2, clock }
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof AuthError ? e.code : 'other'),
  )

describe('the edge key source', () => {
  it('a cold source answers concurrent first requests: each reads rather than refuse with 503', async () => {
    const held: ((value: string | null) => void)[] = []
    const keys = createPublishedKeySource({
      issuer: TEST_ISSUER,
      read: () => new Promise<string | null>((resolve) => held.push(resolve)),
    })
    const first = code(keys.getKey('test-es256', 'ES256'))
    await new Promise((resolve) => setTimeout(resolve, 0)) // another request, in a later task
    const second = code(keys.getKey('test-es256', 'ES256'))
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(held).toHaveLength(2)
    held[1]!(fixtureKeySet([fixtureRecord('ES256')]))
    expect(await second).toBe('ok')
    held[0]!(fixtureKeySet([fixtureRecord('ES256')]))
    expect(await first).toBe('ok')
    expect(keys.status()).toMatchObject({ source: 'l2', stale: false })
  })

  it('verifies with the published set and re-reads it for an unknown kid, rate-limited', async () => {
    const s = source()
    s.l2.value = fixtureKeySet([fixtureRecord('ES256')])
    expect((await s.keys.getKey('test-es256', 'ES256')).kid).toBe('test-es256')
    s.l2.value = fixtureKeySet([fixtureRecord('ES256'), fixtureRecord('EdDSA')], { version: 2 })
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('kid_unknown') // within 1 s
    s.clock.advance(1)
    expect((await s.keys.getKey('test-eddsa', 'EdDSA')).kid).toBe('test-eddsa')
    expect(s.keys.status()).toMatchObject({ source: 'l2', version: 2, stale: false })
  })

  it('never uses a revoked or retired key; a not-yet-published one is ours already', async () => {
    const s = source()
    const now = s.clock() / 1000
    s.l2.value = fixtureKeySet([
      fixtureRecord('ES256', { revokedAt: now - 1 }),
      fixtureRecord('EdDSA', { publishAt: now + 10, activateAt: now + 20 }),
      fixtureRecord('ES384', { retireAt: now - 1 }),
      fixtureRecord('RS256'),
    ])
    for (const [kid, alg] of [
      ['test-es256', 'ES256'],
      ['test-es384', 'ES384'],
    ] as const)
      expect(await code(s.keys.getKey(kid, alg))).toBe('kid_unknown')
    expect(await code(s.keys.getKey('test-rs256', 'RS256'))).toBe('ok')
    // A writer whose clock runs ahead published it "in the future" by ours: its tokens still verify.
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('ok')
  })

  it('knownKey answers from a current copy only, and stops using a key at its retireAt', async () => {
    const s = source()
    const now = s.clock() / 1000
    s.l2.value = fixtureKeySet([
      fixtureRecord('ES256', { retireAt: now + 30 }),
      fixtureRecord('EdDSA'),
    ])
    expect(s.keys.knownKey?.('test-es256', 'ES256')).toBeUndefined() // nothing loaded yet
    await s.keys.getKey('test-eddsa', 'EdDSA')
    const reads = s.l2.reads
    expect(s.keys.knownKey?.('test-es256', 'ES256')?.kid).toBe('test-es256')
    expect(s.keys.knownKey?.('test-es256', 'EdDSA')).toBeUndefined() // the key's alg only
    expect(s.keys.knownKey?.('test-other', 'ES256')).toBeUndefined() // getKey decides
    s.clock.advance(30) // the ES256 key retires; the copy is still current
    expect(s.keys.knownKey?.('test-es256', 'ES256')).toBeUndefined()
    expect(await code(s.keys.getKey('test-es256', 'ES256'))).toBe('kid_unknown')
    expect(s.keys.knownKey?.('test-eddsa', 'EdDSA')?.kid).toBe('test-eddsa')
    expect(s.l2.reads).toBe(reads + 1) // the unknown kid's one re-read; knownKey reads nothing
    s.clock.advance(60) // a refresh is due: getKey's to do
    expect(s.keys.knownKey?.('test-eddsa', 'EdDSA')).toBeUndefined()
  })

  it("knownKey's remembered answer ends with its copy: a key revoked in a copy read before the refresh is not answered", async () => {
    const s = source()
    s.l2.value = fixtureKeySet([fixtureRecord('ES256')])
    await s.keys.getKey('test-es256', 'ES256')
    for (let i = 0; i < 3; i++)
      expect(s.keys.knownKey?.('test-es256', 'ES256')?.kid).toBe('test-es256')
    // An emergency rotation: the ES256 key revoked, a new key published. A token of the new key
    // makes the source re-read (an unknown kid, past the 1 s cooldown) long before the refresh.
    s.l2.value = fixtureKeySet(
      [fixtureRecord('ES256', { revokedAt: s.clock() / 1000 }), fixtureRecord('EdDSA')],
      { version: 2 },
    )
    s.clock.advance(2)
    expect(s.keys.knownKey?.('test-es256', 'ES256')?.kid).toBe('test-es256') // not read yet
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('ok')
    expect(s.keys.knownKey?.('test-es256', 'ES256')).toBeUndefined()
    expect(await code(s.keys.getKey('test-es256', 'ES256'))).toBe('kid_unknown')
    expect(s.keys.knownKey?.('test-eddsa', 'EdDSA')?.kid).toBe('test-eddsa')
    // Asked without a kid, the one key of that alg; the answer follows the question, not the last.
    expect(s.keys.knownKey?.(undefined, 'EdDSA')?.kid).toBe('test-eddsa')
    expect(s.keys.knownKey?.(undefined, 'ES256')).toBeUndefined()
  })

  it('falls back to the configured source only while L2 has no set for this issuer', async () => {
    const fallback = await createStaticKeySet(publicJwks())
    const s = source({ fallback })
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('ok')
    expect(s.keys.status().source).toBe('origin')
    s.l2.value = fixtureKeySet([fixtureRecord('ES256')], { issuer: 'https://other.test' })
    s.clock.advance(60)
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('ok')
    s.l2.value = fixtureKeySet([fixtureRecord('ES256')])
    s.clock.advance(60)
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('kid_unknown')
    expect(s.keys.status().source).toBe('l2')
  })

  it('warm and L2 down: keeps verifying with its copy, says it is stale, retries sparingly', async () => {
    const s = source()
    s.l2.value = fixtureKeySet([fixtureRecord('ES256')])
    await s.keys.getKey('test-es256', 'ES256')
    s.l2.down = true
    s.clock.advance(61)
    expect(await code(s.keys.getKey('test-es256', 'ES256'))).toBe('ok')
    expect(s.keys.status()).toMatchObject({ source: 'l2', stale: true, lastError: 'unreachable' })
    // A kid its copy lacks may be a key published since: it cannot tell, so 503, not 401.
    expect(await code(s.keys.getKey('test-eddsa', 'EdDSA'))).toBe('jwks_unavailable')
    const reads = s.l2.reads
    for (let i = 0; i < 10; i++) await s.keys.getKey('test-es256', 'ES256')
    expect(s.l2.reads).toBe(reads) // within the failure cooldown: no request waits on L2
    s.l2.down = false
    s.clock.advance(5)
    await s.keys.getKey('test-es256', 'ES256')
    expect(s.keys.status()).toMatchObject({ stale: false, lastError: null })
  })

  it('a failed read is retried within half the set’s refresh period when that is shorter than the cooldown, before the next key signs', async () => {
    // A short schedule: copies refreshed every 2 s, a key published 4 s before it signs.
    const s = source()
    const cacheSeconds = 2
    s.l2.value = fixtureKeySet([fixtureRecord('ES256')], { cacheSeconds })
    await s.keys.getKey('test-es256', 'ES256')
    // The next key is published; the refresh that would bring it fails (a busy L2).
    s.l2.value = fixtureKeySet([fixtureRecord('ES256'), fixtureRecord('EdDSA')], {
      cacheSeconds,
      version: 2,
    })
    s.l2.down = true
    s.clock.advance(cacheSeconds)
    expect(await code(s.keys.getKey('test-es256', 'ES256'))).toBe('ok')
    expect(s.keys.status()).toMatchObject({ stale: true })
    const reads = s.l2.reads
    s.clock.advance(cacheSeconds / 2 - 0.5)
    await s.keys.getKey('test-es256', 'ES256')
    expect(s.l2.reads).toBe(reads) // still cooling down
    // Half a refresh period after the failed read's start (not the 5 s cooldown, nor a whole
    // period, which would start the retry just as the key signs): read again, and the key that
    // signs from 4 s after its publication is held when its first token comes. (The failed read
    // here fails at once; why half a period also covers one that fails only at the 1 s timeout is
    // the timeline in published-key-source.ts's header.)
    s.l2.down = false
    s.clock.advance(0.5)
    expect(await code(s.keys.getKey('test-es256', 'ES256'))).toBe('ok')
    expect(s.l2.reads).toBe(reads + 1)
    expect((await s.keys.getKey('test-eddsa', 'EdDSA')).kid).toBe('test-eddsa')
    expect(s.keys.status()).toMatchObject({ version: 2, stale: false })
  })

  it('cold with L2 down and no fallback (or a failing one): jwks_unavailable, never a key', async () => {
    const failing: KeySet = {
      getKey: () => Promise.reject(new AuthError('jwks_unavailable', 'down')),
    }
    for (const s of [source(), source({ fallback: failing })]) {
      s.l2.down = true
      expect(await code(s.keys.getKey('test-es256', 'ES256'))).toBe('jwks_unavailable')
      expect(s.keys.status()).toMatchObject({ source: null, stale: true })
    }
  })
})
