/**
 * The published key set: statuses derived from timestamps and the clock (exactly one active), the
 * JWKS and discovery derived from it, and a strict parser that reads damage as "nothing".
 */
import { describe, expect, it } from 'vitest'
import {
  activeKeyAt,
  discoveryAt,
  keyStatusAt,
  nextChangeAfter,
  parseKeySetDocument,
  publicJwksAt,
  type KeyRecord,
  type KeySetDocument,
} from '../../../src/core/published-key-set.ts'
import { publicJwk, type TestAlg } from '../../fixtures/keys.ts'

const record = (alg: TestAlg, times: Partial<KeyRecord>): KeyRecord => {
  const jwk = publicJwk(alg) as KeyRecord['jwk']
  return { kid: jwk.kid, alg: jwk.alg, jwk, createdAt: 0, publishAt: 0, activateAt: 0, ...times }
}

const doc = (keys: KeyRecord[], extra: Partial<KeySetDocument> = {}): KeySetDocument => ({
  format: 1,
  issuer: 'https://issuer.test',
  version: 1,
  updatedAt: 0,
  cacheSeconds: 300,
  keys,
  ...extra,
})

describe('key statuses', () => {
  // old signed 0..100 and is published until 150; cur signs from 100; nxt is published at 90, signs at 200.
  const old = record('ES256', { activateAt: 0, retireAt: 150 })
  const cur = record('EdDSA', { publishAt: 10, activateAt: 100, retireAt: 250 })
  const nxt = record('ES384', { publishAt: 90, activateAt: 200 })
  const set = doc([old, cur, nxt])

  it('moves pending → next → active → retiring → retired with the clock alone', () => {
    const at = (t: number) => set.keys.map((k) => keyStatusAt(set, k, t))
    expect(at(5)).toEqual(['active', 'pending', 'pending'])
    expect(at(50)).toEqual(['active', 'next', 'pending'])
    expect(at(95)).toEqual(['active', 'next', 'next'])
    expect(at(100)).toEqual(['retiring', 'active', 'next'])
    expect(at(150)).toEqual(['retired', 'active', 'next'])
    expect(at(200)).toEqual(['retired', 'retiring', 'active'])
    expect(at(250)).toEqual(['retired', 'retired', 'active'])
  })

  it('has exactly one active key at every moment once one has activated', () => {
    for (let t = 0; t <= 400; t++) {
      const active = set.keys.filter((k) => keyStatusAt(set, k, t) === 'active')
      expect(active).toHaveLength(1)
      expect(active[0]).toBe(activeKeyAt(set, t))
    }
  })

  it('a revoked key is out at once, whatever its times say', () => {
    const revoked = doc([{ ...cur, revokedAt: 120 }, old])
    expect(keyStatusAt(revoked, revoked.keys[0]!, 110)).toBe('revoked')
    expect(activeKeyAt(revoked, 110)?.kid).toBe(old.kid)
    expect(publicJwksAt(revoked, 110).keys.map((k) => k.kid)).toEqual([old.kid])
  })

  it('publishes next, active and retiring keys with public members only', () => {
    const jwks = publicJwksAt(set, 120)
    expect(jwks.keys.map((k) => k.kid)).toEqual([old.kid, cur.kid, nxt.kid])
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d')
    expect(publicJwksAt(set, 160).keys.map((k) => k.kid)).toEqual([cur.kid, nxt.kid])
  })

  it('names the next moment anything changes', () => {
    expect(nextChangeAfter(set, 0)).toBe(10)
    expect(nextChangeAfter(set, 100)).toBe(150)
    expect(nextChangeAfter(set, 250)).toBe(Infinity)
  })

  it('derives the signing algorithms in discovery from the keys', () => {
    const withDiscovery = doc(set.keys, { discovery: { issuer: 'https://issuer.test' } })
    expect(discoveryAt(withDiscovery, 120)).toEqual({
      issuer: 'https://issuer.test',
      id_token_signing_alg_values_supported: ['EdDSA'],
      access_token_signing_alg_values_supported: ['ES256', 'EdDSA', 'ES384'],
    })
    expect(discoveryAt(set, 120)).toBeUndefined()
  })
})

describe('parseKeySetDocument', () => {
  const good = doc([record('ES256', {}), record('RS256', { publishAt: 5, activateAt: 9 })], {
    discovery: { issuer: 'https://issuer.test' },
  })

  it('reads back what was written', () => {
    expect(parseKeySetDocument(JSON.stringify(good))).toEqual(good)
    expect(parseKeySetDocument(null)).toBeUndefined()
  })

  it('reads damage as nothing, never as a partial set', () => {
    const variants: unknown[] = [
      'not json',
      { ...good, format: 2 },
      { ...good, version: -1 },
      { ...good, cacheSeconds: 0 },
      { ...good, keys: [good.keys[0], good.keys[0]] },
      { ...good, keys: [{ ...good.keys[0], publishAt: 10, activateAt: 5 }] },
      { ...good, keys: [{ ...good.keys[0], alg: 'HS256' }] },
      { ...good, keys: [{ ...good.keys[0], jwk: { ...good.keys[0]!.jwk, kid: 'other' } }] },
      { ...good, keys: [{ ...good.keys[0], jwk: { ...good.keys[0]!.jwk, crv: 'P-521' } }] },
      { ...good, keys: [{ ...good.keys[0], retireAt: 'soon' }] },
      { ...good, discovery: [] },
    ]
    for (const v of variants)
      expect(parseKeySetDocument(typeof v === 'string' ? v : JSON.stringify(v))).toBeUndefined()
  })

  it('drops members it does not know (a private member never survives a parse)', () => {
    const key = { ...good.keys[0], jwk: { ...good.keys[0]!.jwk, d: 'secret' } }
    const parsed = parseKeySetDocument(JSON.stringify({ ...good, keys: [key] }))
    expect(parsed?.keys[0]?.jwk).not.toHaveProperty('d')
  })
})
