/**
 * The pure parts of DPoP (src/core/dpop*.ts) on their own: htu normalisation, the proof checker's
 * options and key cache, the replay cache's L1 and its policy without L2, nonce values.
 */
import { describe, expect, it } from 'vitest'
import { normaliseHtu } from '../../../src/core/dpop-htu.ts'
import { createDpopNonces } from '../../../src/core/dpop-nonce.ts'
import { createDpopReplayCache } from '../../../src/core/dpop-replay.ts'
import { accessTokenHash, createDpopProofChecker } from '../../../src/core/dpop.ts'
import { athOf, generateProofKey, makeProof } from '../../support/dpop-proofs.ts'

const T0 = 1_900_000_000
const HTU = 'https://api.test/orders'
const fixed = () => T0 * 1000

describe('DPoP htu normalisation (RFC 9449 §4.3, RFC 3986 §6.2.2-6.2.3)', () => {
  it('DPoP htu: case, default port, dot segments, percent-encoding, empty path', () => {
    const normal = 'https://api.test/a/~b/%2F'
    for (const variant of [
      'HTTPS://API.TEST/a/~b/%2F',
      'https://api.test:443/a/~b/%2f',
      'https://api.test/a/./c/../%7Eb/%2F',
      'https://api.test/a/~b/%2F?q=1#frag',
    ])
      expect(normaliseHtu(variant), variant).toBe(normal)
    expect(normaliseHtu('http://api.test')).toBe('http://api.test/')
    expect(normaliseHtu('http://api.test:8080/x')).toBe('http://api.test:8080/x')
  })

  it('DPoP htu: only absolute http(s) URIs without user information', () => {
    for (const bad of ['/relative', 'ftp://api.test/x', 'https://u:p@api.test/x', 'not a uri'])
      expect(normaliseHtu(bad), bad).toBeUndefined()
    // Different paths, ports or schemes stay different.
    expect(normaliseHtu('https://api.test/x')).not.toBe(normaliseHtu('https://api.test/X'))
    expect(normaliseHtu('https://api.test/x')).not.toBe(normaliseHtu('http://api.test/x'))
    expect(normaliseHtu('https://api.test/x')).not.toBe(normaliseHtu('https://api.test:8443/x'))
  })
})

describe('DPoP proof checker', () => {
  it('DPoP checker options are validated once, at construction', () => {
    expect(() => createDpopProofChecker({ maxAgeSeconds: 0 })).toThrow(RangeError)
    expect(() => createDpopProofChecker({ clockLeewaySeconds: 61 })).toThrow(RangeError)
    expect(() => createDpopProofChecker({ keyCacheSize: 0 })).toThrow(RangeError)
    expect(createDpopProofChecker({ maxAgeSeconds: 30, clockLeewaySeconds: 2 }).windowSeconds).toBe(
      30 + 5 + 4,
    )
  })

  it('DPoP ath is base64url(SHA-256(token))', async () => {
    expect(await accessTokenHash('abc')).toBe(await athOf('abc'))
    expect(await accessTokenHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0')
  })

  it('DPoP: a cached key still refuses a private member added to the same public key', async () => {
    const checker = createDpopProofChecker({ now: fixed })
    const key = await generateProofKey()
    const request = { method: 'GET', uris: [HTU] }
    await checker.check(await makeProof(key, { htm: 'GET', htu: HTU, iat: T0 }), request)
    const withD = await makeProof(
      key,
      { htm: 'GET', htu: HTU, iat: T0 },
      { header: { jwk: { ...key.jwk, d: key.privateJwk.d } } },
    )
    await expect(checker.check(withD, request)).rejects.toMatchObject({
      code: 'dpop_proof_invalid',
      description: expect.stringMatching(/private/),
    })
  })

  it('DPoP: a header checked before still gets every per-proof check (signature, htm, htu, iat)', async () => {
    const checker = createDpopProofChecker({ now: fixed })
    const key = await generateProofKey()
    const thief = await generateProofKey()
    const request = { method: 'GET', uris: [HTU] }
    const claims = { htm: 'GET', htu: HTU, iat: T0 }
    await checker.check(await makeProof(key, claims), request)
    // The same header text (key's jwk), signed by another key: the signature is checked again.
    const forged = await makeProof(key, claims, { signWith: thief.privateKey })
    expect(forged.split('.')[0]).toBe((await makeProof(key, claims)).split('.')[0])
    const refusals: [string, RegExp][] = [
      [forged, /signature/],
      [await makeProof(key, { ...claims, htm: 'POST' }), /htm/],
      [await makeProof(key, { ...claims, htu: 'https://api.test/other' }), /htu/],
      [await makeProof(key, { ...claims, htu: 'https://u:p@api.test/orders' }), /htu/],
      [await makeProof(key, { ...claims, iat: T0 - 61 }), /too old/],
      [await makeProof(key, claims, { omit: ['jti'] }), /jti/],
    ]
    // Twice each: the second time every cache (header, key, htu normal forms) is warm.
    for (const [proof, why] of [...refusals, ...refusals])
      await expect(checker.check(proof, request)).rejects.toMatchObject({
        code: 'dpop_proof_invalid',
        description: expect.stringMatching(why),
      })
    // A header that differs in any way (here: typ) is checked afresh, not matched to the cached one.
    const jwt = await makeProof(key, claims, { header: { typ: 'JWT' } })
    await expect(checker.check(jwt, request)).rejects.toMatchObject({
      description: expect.stringMatching(/typ/),
    })
    await expect(checker.check(await makeProof(key, claims), request)).resolves.toMatchObject({
      jkt: key.jkt,
    })
  })

  it('DPoP: the key cache is bounded and evicts the oldest key', async () => {
    const checker = createDpopProofChecker({ now: fixed, keyCacheSize: 2 })
    const keys = await Promise.all([1, 2, 3].map(() => generateProofKey()))
    const request = { method: 'GET', uris: [HTU] }
    for (const key of [...keys, ...keys]) {
      const checked = await checker.check(
        await makeProof(key, { htm: 'GET', htu: HTU, iat: T0 }),
        request,
      )
      expect(checked.jkt).toBe(key.jkt)
    }
  })

  it('DPoP: a proof key that does not suit the algorithm, or a weak RSA key, is refused', async () => {
    const checker = createDpopProofChecker({ now: fixed })
    const request = { method: 'GET', uris: [HTU] }
    const es384 = await generateProofKey('ES384')
    const es256 = await generateProofKey('ES256')
    const mismatch = await makeProof(
      es256,
      { htm: 'GET', htu: HTU, iat: T0 },
      { header: { alg: 'ES384', jwk: es256.jwk }, signWith: es384.privateKey },
    )
    await expect(checker.check(mismatch, request)).rejects.toMatchObject({
      code: 'dpop_proof_invalid',
    })
    const weak = await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )
    const weakJwk = await crypto.subtle.exportKey('jwk', weak.publicKey)
    // jose will not sign with a 1024-bit key; an attacker would, by hand.
    const part = (v: object) =>
      btoa(JSON.stringify(v)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    const input = `${part({ alg: 'RS256', typ: 'dpop+jwt', jwk: { kty: 'RSA', n: weakJwk.n, e: weakJwk.e } })}.${part({ jti: 'w', htm: 'GET', htu: HTU, iat: T0 })}`
    const sig = new Uint8Array(
      await crypto.subtle.sign(
        'RSASSA-PKCS1-v1_5',
        weak.privateKey,
        new TextEncoder().encode(input),
      ),
    )
    const weakProof = `${input}.${btoa(String.fromCharCode(...sig))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '')}`
    await expect(checker.check(weakProof, request)).rejects.toMatchObject({
      description: expect.stringMatching(/not a valid public key/),
    })
  })

  it('DPoP: garbage never throws anything but an AuthError', async () => {
    const checker = createDpopProofChecker({ now: fixed })
    for (const proof of ['', 'a.b', 'a.b.c', '....', 'x'.repeat(9000), 'eyJ9.e30.']) {
      await expect(checker.check(proof, { method: 'GET', uris: [HTU] })).rejects.toMatchObject({
        name: 'AuthError',
        code: 'dpop_proof_invalid',
      })
    }
  })
})

describe('DPoP replay cache', () => {
  it('DPoP replay without L2: caught in L1 for the window, then forgotten', async () => {
    let now = T0 * 1000
    const cache = createDpopReplayCache({ windowSeconds: 10, now: () => now })
    await cache.claim('k', 'j')
    await expect(cache.claim('k', 'j')).rejects.toMatchObject({ code: 'dpop_proof_invalid' })
    now += 10_001
    await expect(cache.claim('k', 'j')).resolves.toBeUndefined()
  })

  it('DPoP replay L1 is bounded: the oldest entries go first', async () => {
    const cache = createDpopReplayCache({ windowSeconds: 60, maxEntries: 3, now: fixed })
    for (const jti of ['a', 'b', 'c', 'd']) await cache.claim('k', jti)
    // 'a' was evicted (with L2 up, L2 would still refuse it); the rest are remembered.
    await expect(cache.claim('k', 'a')).resolves.toBeUndefined()
    await expect(cache.claim('k', 'd')).rejects.toMatchObject({ code: 'dpop_proof_invalid' })
  })

  it('DPoP replay policy open: a store failure is reported and L1 decides', async () => {
    const failures: string[] = []
    const cache = createDpopReplayCache({
      windowSeconds: 60,
      now: fixed,
      store: { set: () => Promise.reject(new Error('down')) },
      onStoreFailure: (_e, decision) => failures.push(decision),
    })
    await cache.claim('k', 'j')
    await expect(cache.claim('k', 'j')).rejects.toMatchObject({ code: 'dpop_proof_invalid' })
    expect(failures).toEqual(['accepted'])
  })

  it('DPoP replay options are validated', () => {
    expect(() => createDpopReplayCache({ windowSeconds: 0 })).toThrow(RangeError)
    expect(() => createDpopReplayCache({ windowSeconds: 1, policy: 'maybe' as 'open' })).toThrow(
      TypeError,
    )
  })
})

describe('DPoP nonces', () => {
  it('DPoP nonce: two processes with one secret agree; another secret does not', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32))
    const a = createDpopNonces({ secret: async () => secret, now: fixed })
    const b = createDpopNonces({ secret: async () => secret, now: fixed })
    const other = createDpopNonces({ secret: async () => new Uint8Array(32), now: fixed })
    const nonce = await a.current()
    expect(await b.isValid(nonce)).toBe(true)
    expect(await other.isValid(nonce)).toBe(false)
    for (const bad of ['', 'x', `${nonce}x`, nonce.replace('.', '-')])
      expect(await a.isValid(bad)).toBe(false)
    await expect(
      createDpopNonces({ secret: async () => new Uint8Array(8) }).current(),
    ).rejects.toThrow(RangeError)
  })
})
