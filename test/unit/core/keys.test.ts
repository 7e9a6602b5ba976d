import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { importJwk, KeyImportError, type ImportJwkOptions } from '../../../src/core/keys.ts'
import { hasRocaFingerprint } from '../../../src/core/roca.ts'
import { privateJwks, publicJwk } from '../../fixtures/keys.ts'
import { omit } from './helpers.ts'
import { loadVectors } from './wycheproof.ts'

async function problem(jwk: unknown, options?: ImportJwkOptions) {
  const error = await importJwk(jwk, options).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(KeyImportError)
  return error as KeyImportError
}

const strip = (alg: 'ES256' | 'ES384' | 'EdDSA' | 'RS256') => omit(publicJwk(alg), 'alg', 'kid')

/** The test key's y with its last bit flipped: still 32 bytes of canonical base64url, off the curve. */
function offCurveY(): string {
  const y = Buffer.from(publicJwk('ES256').y!, 'base64url')
  y[31] = y[31]! ^ 1
  return y.toString('base64url')
}

describe('importJwk', () => {
  it('infers the algorithm from the curve when the JWK has no alg', async () => {
    expect((await importJwk(strip('ES256'))).map((k) => k.alg)).toEqual(['ES256'])
    expect((await importJwk(strip('ES384'))).map((k) => k.alg)).toEqual(['ES384'])
    expect((await importJwk(strip('EdDSA'))).map((k) => k.alg)).toEqual(['EdDSA'])
    expect((await problem(strip('RS256'))).problem).toBe('invalid')
  })

  it('never copies private or extra members into the key', async () => {
    const [key] = await importJwk({ ...publicJwk('ES256'), ext: true, extra: 'x' })
    expect(Object.keys(key!.jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'])
    expect(key!.cryptoKey.usages).toEqual(['verify'])
    expect(key!.cryptoKey.extractable).toBe(false)
  })

  it.each([
    ['a private EC key', privateJwks.ES256],
    ['a private OKP key', privateJwks.EdDSA],
    ['a private RSA key', privateJwks.RS256],
    ['an RSA key with only "p"', { ...publicJwk('RS256'), p: 'AQAB' }],
    ['alg not matching the curve', { ...publicJwk('ES256'), alg: 'ES384' }],
    ['EdDSA alg on an EC key', { ...publicJwk('ES256'), alg: 'EdDSA' }],
    ['a point not on the curve', { ...publicJwk('ES256'), y: offCurveY() }],
    ['x of the wrong length', { ...publicJwk('ES256'), x: 'AAAA' }],
    ['exponent 1', { ...publicJwk('RS256'), e: 'AQ' }],
    ['an even exponent', { ...publicJwk('RS256'), e: 'AQAA' }],
    ['a non-string kid', { ...publicJwk('ES256'), kid: 1 }],
    ['key_ops that is not an array', { ...publicJwk('ES256'), key_ops: 'verify' }],
    ['not an object', 'jwk'],
    ['an HMAC key shorter than its hash', { kty: 'oct', alg: 'HS256', k: 'c2hvcnQ' }],
  ])('refuses %s as invalid', async (_why, jwk) => {
    const options = {
      allowSymmetric: true,
      supported: ['ES256', 'ES384', 'EdDSA', 'RS256', 'HS256'] as const,
    }
    expect((await problem(jwk, options)).problem).toBe('invalid')
  })

  it.each([
    ['use enc', { ...publicJwk('ES256'), use: 'enc' }],
    ['key_ops without verify', { ...publicJwk('ES256'), key_ops: ['encrypt'] }],
    ['an unknown alg', { ...publicJwk('ES256'), alg: 'ES521' }],
    ['P-521', { ...publicJwk('ES256'), crv: 'P-521' }],
    ['X25519', { kty: 'OKP', crv: 'X25519', x: publicJwk('EdDSA').x }],
    ['an HMAC key in an asymmetric set', { kty: 'oct', alg: 'HS256', k: 'x'.repeat(43) }],
    [
      'an RS384 key where only access-token algorithms are supported',
      { ...publicJwk('RS256'), alg: 'RS384' },
    ],
  ])('skips %s as unusable', async (_why, jwk) => {
    expect((await problem(jwk)).problem).toBe('unusable')
  })

  it('checks RSA modulus size and the ROCA fingerprint', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'jwk',
    })
    expect((await problem({ ...small, alg: 'RS256' })).message).toMatch(/2048/)
    const roca = loadVectors<{ public: { keys: JsonWebKey[] } | null }>('json_web_key_test.json')
      .testGroups.flatMap((g) => g.public?.keys ?? [])
      .find((k) => (k as { kid?: string }).kid === 'kid-rsa-roca-sign')!
    expect((await problem(roca)).message).toMatch(/ROCA/)
    for (const alg of ['RS256', 'PS256'] as const) {
      expect(hasRocaFingerprint(Buffer.from(publicJwk(alg).n!, 'base64url'))).toBe(false)
    }
    const fresh = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      format: 'jwk',
    })
    expect(hasRocaFingerprint(Buffer.from(fresh.n!, 'base64url'))).toBe(false)
  })

  it('accepts HMAC keys only when asked, with an explicit alg', async () => {
    const k = Buffer.alloc(32, 7).toString('base64url')
    const keys = await importJwk(
      { kty: 'oct', alg: 'HS256', k },
      { allowSymmetric: true, supported: ['HS256'] },
    )
    expect(keys.map((key) => key.alg)).toEqual(['HS256'])
    expect(
      (await problem({ kty: 'oct', k }, { allowSymmetric: true, supported: ['HS256'] })).problem,
    ).toBe('invalid')
  })
})
