import { describe, expect, it } from 'vitest'
import { createCachedVerifier } from '../../../src/cache/cached-verifier.ts'
import { createTokenCache } from '../../../src/cache/token-cache.ts'
import { AuthError } from '../../../src/core/errors.ts'
import { createStaticKeySet } from '../../../src/core/jwks.ts'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { createAccessTokenVerifier, type AccessTokenVerifier } from '../../../src/core/verify.ts'
import { publicJwks, signTestToken, TEST_AUDIENCE, TEST_ISSUER } from '../../fixtures/keys.ts'
import { fakeToken, verified } from './fake-tokens.ts'

const T0 = 1_700_000_000_000
const EXP = T0 / 1000 + 300

/** A stand-in for the real verifier (the dependency, not the thing under test): counts its calls. */
function stubVerifier(results: Map<string, VerifiedToken>) {
  const calls: string[] = []
  const verifier: AccessTokenVerifier = {
    async verify(token) {
      calls.push(token)
      await Promise.resolve()
      const result = results.get(token)
      if (result === undefined) throw new AuthError('signature_invalid', 'signature invalid')
      return result
    },
  }
  return { verifier, calls }
}

function setup() {
  const clock = { ms: T0 }
  const good = fakeToken(1)
  const { verifier, calls } = stubVerifier(new Map([[good, verified('alice', EXP)]]))
  const cache = createTokenCache({ now: () => clock.ms })
  return { cached: createCachedVerifier(verifier, cache), cache, calls, clock, good }
}

describe('createCachedVerifier', () => {
  it('verifies once, then serves the same result from the cache', async () => {
    const { cached, cache, calls, good } = setup()
    const first = await cached.verify(good)
    const second = await cached.verify(good)
    expect(second.claims.sub).toBe('alice')
    expect(second).toBe(first)
    expect(calls).toHaveLength(1)
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, size: 1 })
  })

  it('never caches a failure: a rejected token is verified (and rejected) every time', async () => {
    const { cached, cache, calls } = setup()
    const bad = fakeToken(2)
    await expect(cached.verify(bad)).rejects.toMatchObject({ code: 'signature_invalid' })
    await expect(cached.verify(bad)).rejects.toBeInstanceOf(AuthError)
    expect(calls).toEqual([bad, bad])
    expect(cache.stats().size).toBe(0)
  })

  it('goes back to the verifier once the token reaches exp', async () => {
    const { cached, calls, clock, good } = setup()
    await cached.verify(good)
    clock.ms = EXP * 1000
    await cached.verify(good)
    expect(calls).toHaveLength(2)
  })

  it('shares no in-flight promise: concurrent misses each run the verifier', async () => {
    const { cached, calls, good } = setup()
    const [a, b] = await Promise.all([cached.verify(good), cached.verify(good)])
    expect(a.claims.sub).toBe('alice')
    expect(b.claims.sub).toBe('alice')
    expect(calls).toHaveLength(2)
  })

  it('refuses to let one cache back two differently configured verifiers', () => {
    const cache = createTokenCache()
    const first = stubVerifier(new Map()).verifier
    createCachedVerifier(first, cache)
    expect(() => createCachedVerifier(first, cache)).not.toThrow()
    expect(() => createCachedVerifier(stubVerifier(new Map()).verifier, cache)).toThrow(
      /already backs another verifier/,
    )
  })
})

describe('createCachedVerifier over the real verifier', () => {
  async function real() {
    const clock = { ms: T0 }
    const verifier = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keys: await createStaticKeySet(publicJwks()),
      now: () => clock.ms,
    })
    const cache = createTokenCache({ now: () => clock.ms })
    return { cached: createCachedVerifier(verifier, cache), cache, clock }
  }

  it('a forged token reusing a cached token’s signature is rejected, not served', async () => {
    const { cached, cache } = await real()
    const token = await signTestToken({ sub: 'alice' }, { now: T0 / 1000 })
    expect((await cached.verify(token)).claims.sub).toBe('alice')

    const [header, payload, signature] = token.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as object
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString(
      'base64url',
    )
    const forged = `${header}.${forgedPayload}.${signature}`
    await expect(cached.verify(forged)).rejects.toMatchObject({ code: 'signature_invalid' })
    expect((await cached.verify(token)).claims.sub).toBe('alice')
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, size: 1 })
  })

  it('at exp the cache misses and the verifier rejects the token as expired', async () => {
    const { cached, clock } = await real()
    const token = await signTestToken({}, { now: T0 / 1000, lifetimeSeconds: 60 })
    await cached.verify(token)
    clock.ms = T0 + 60_000
    await expect(cached.verify(token)).rejects.toMatchObject({ code: 'token_expired' })
  })
})
