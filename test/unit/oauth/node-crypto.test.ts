/**
 * Parity of the Node primitives with the core's WebCrypto defaults: tokens minted with `nodeJwsSign`
 * and with `webCryptoJwsSign` verify with jose and with our own verifier (WebCrypto and node:crypto
 * checks) for every signing algorithm, also batched (node-sign-batch.ts); `nodeSha256` equals the WebCrypto `sha256`; client
 * authentication and the whole context behave the same with the Node primitives injected.
 */
import { createOAuthRevoker } from '../../../src/revocation/oauth-revoker.ts'
import fc from 'fast-check'
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { createStaticKeySet } from '../../../src/core/jwks.ts'
import { createClientRegistry } from '../../../src/core/oauth/clients.ts'
import { parseOAuthConfig } from '../../../src/core/oauth/config.ts'
import { createOAuthContext } from '../../../src/core/oauth/context.ts'
import { sha256 } from '../../../src/core/oauth/crypto.ts'
import { loadSigningKeys, type SigningKeySet } from '../../../src/core/oauth/keys.ts'
import { atHash, createTokenSigner, webCryptoJwsSign } from '../../../src/core/oauth/mint.ts'
import { createAccessTokenVerifier, webCryptoSignatureCheck } from '../../../src/core/verify.ts'
import { nodeJwsSign, nodeOAuthCrypto, nodeSha256 } from '../../../src/entry/node-crypto.ts'
import { nodeSignatureCheck } from '../../../src/entry/node-signature.ts'
import { createBatchedJwsSign } from '../../../src/entry/node-sign-batch.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { publicJwk, type TestAlg } from '../../fixtures/keys.ts'
import { API, ISSUER, SERVICE_SECRET, configKey, testConfig, testPasswords } from './support.ts'

const ALGS: TestAlg[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']
const NOW = Date.UTC(2025, 5, 1)
const clock = () => NOW
const SIGNERS = {
  node: nodeJwsSign,
  webcrypto: webCryptoJwsSign,
  'node, batched on a worker': createBatchedJwsSign({ thread: true }),
  'node, batched on the main thread': createBatchedJwsSign({ thread: false }),
}

const keyCache = new Map<TestAlg, Promise<SigningKeySet>>()
const keysFor = (alg: TestAlg): Promise<SigningKeySet> => {
  let keys = keyCache.get(alg)
  if (!keys) keyCache.set(alg, (keys = loadSigningKeys([configKey(alg, 'active')])))
  return keys
}

const signerFor = async (alg: TestAlg, sign: typeof nodeJwsSign) =>
  createTokenSigner({
    issuer: ISSUER,
    keys: await keysFor(alg),
    accessTokenTtlSeconds: 600,
    idTokenTtlSeconds: 300,
    clock,
    sign,
  })

/** Flips one bit of the signature's first byte, keeping the segment canonical base64url. */
function tamper(token: string): string {
  const dot = token.lastIndexOf('.')
  const c = token[dot + 1] === 'A' ? 'B' : 'A'
  return `${token.slice(0, dot + 1)}${c}${token.slice(dot + 2)}`
}

describe.each(ALGS)('%s tokens', (alg) => {
  describe.each(Object.entries(SIGNERS))('signed with %s', (_name, sign) => {
    it('mint an RFC 9068 access token that jose and both of our checks verify', async () => {
      const signer = await signerFor(alg, sign)
      const minted = await signer.accessToken({
        sub: 'user-1',
        clientId: 'spa',
        scope: 'openid read',
        aud: API,
        sid: 'session-1',
        authTime: NOW / 1000 - 30,
      })
      expect(minted).toMatchObject({ exp: NOW / 1000 + 600, expiresIn: 600 })
      expect(minted.jti).toMatch(/^[A-Za-z0-9_-]{22}$/)
      // RFC 9068 §2.1: typ at+jwt, the key's alg and kid.
      expect(decodeProtectedHeader(minted.token)).toEqual({
        alg,
        kid: publicJwk(alg).kid,
        typ: 'at+jwt',
      })

      const { payload } = await jwtVerify(minted.token, await importJWK(publicJwk(alg), alg), {
        algorithms: [alg],
        typ: 'at+jwt',
        issuer: ISSUER,
        audience: API,
        currentDate: new Date(NOW),
      })
      expect(payload).toEqual({
        iss: ISSUER,
        sub: 'user-1',
        aud: API,
        exp: NOW / 1000 + 600,
        iat: NOW / 1000,
        jti: minted.jti,
        client_id: 'spa',
        scope: 'openid read',
        sid: 'session-1',
        auth_time: NOW / 1000 - 30,
      })

      const keys = await createStaticKeySet({ keys: [publicJwk(alg)] })
      for (const checkSignature of [webCryptoSignatureCheck, nodeSignatureCheck]) {
        const verifier = createAccessTokenVerifier({
          issuer: ISSUER,
          audience: API,
          keys,
          now: clock,
          checkSignature,
        })
        await expect(verifier.verify(minted.token)).resolves.toMatchObject({
          claims: { sub: 'user-1', client_id: 'spa', jti: minted.jti },
        })
        await expect(verifier.verify(tamper(minted.token))).rejects.toMatchObject({
          code: 'signature_invalid',
        })
      }
    })

    it('mint an ID token with at_hash that jose verifies', async () => {
      const signer = await signerFor(alg, sign)
      const access = await signer.accessToken({
        sub: 'user-1',
        clientId: 'spa',
        scope: 'openid',
        aud: API,
      })
      const idToken = await signer.idToken({
        sub: 'user-1',
        clientId: 'spa',
        authTime: NOW / 1000 - 30,
        nonce: 'n-0S6_WzA2Mj',
        sid: 'session-1',
        accessToken: access.token,
      })
      expect(decodeProtectedHeader(idToken)).toEqual({ alg, kid: publicJwk(alg).kid, typ: 'JWT' })
      const { payload } = await jwtVerify(idToken, await importJWK(publicJwk(alg), alg), {
        algorithms: [alg],
        issuer: ISSUER,
        audience: 'spa',
        currentDate: new Date(NOW),
      })
      expect(payload).toEqual({
        iss: ISSUER,
        sub: 'user-1',
        aud: 'spa',
        exp: NOW / 1000 + 300,
        iat: NOW / 1000,
        auth_time: NOW / 1000 - 30,
        nonce: 'n-0S6_WzA2Mj',
        sid: 'session-1',
        at_hash: await atHash(access.token, alg),
      })
    })
  })
})

describe('nodeJwsSign', () => {
  it('signs ES256 as a 64-byte R ‖ S that WebCrypto verifies over the exact signing input', async () => {
    const keys = await keysFor('ES256')
    const input = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0'
    const signature = Buffer.from(nodeJwsSign(keys.active, input) as string, 'base64url')
    expect(signature).toHaveLength(64)
    const params = { name: 'ECDSA', hash: 'SHA-256' }
    const data = new TextEncoder().encode(input)
    expect(await crypto.subtle.verify(params, keys.active.publicKey, signature, data)).toBe(true)
    expect(
      await crypto.subtle.verify(params, keys.active.publicKey, signature, data.subarray(1)),
    ).toBe(false)
  })

  it('answers synchronously', async () => {
    expect(typeof nodeJwsSign((await keysFor('EdDSA')).active, 'a.b')).toBe('string')
  })
})

describe('nodeSha256', () => {
  it('matches the WebCrypto digest and the FIPS 180-2 vector', async () => {
    // FIPS 180-2 Appendix B.1: SHA-256("abc").
    const abc = Buffer.from(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      'hex',
    ).toString('base64url')
    expect(nodeSha256('abc')).toBe(abc)
    expect(await sha256('abc')).toBe(abc)
    for (const value of ['', 'é€😀', '\uD800 lone surrogate', SERVICE_SECRET])
      expect(nodeSha256(value)).toBe(await sha256(value))
  })

  it('matches the WebCrypto digest for any string', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async (value) => {
        expect(nodeSha256(value)).toBe(await sha256(value))
      }),
      { numRuns: 300 },
    )
  })
})

describe('client authentication with nodeSha256', () => {
  it('accepts the right secret and refuses a wrong one, as the default does', async () => {
    // The test config's `service` client stores hashClientSecret(SERVICE_SECRET).
    const { clients } = parseOAuthConfig(await testConfig())
    for (const registry of [
      createClientRegistry(clients, { sha256: nodeSha256 }),
      createClientRegistry(clients),
    ]) {
      const basic = { method: 'client_secret_basic' as const, clientId: 'service' }
      await expect(
        registry.authenticate({ ...basic, clientSecret: SERVICE_SECRET }),
      ).resolves.toMatchObject({ id: 'service' })
      await expect(
        registry.authenticate({ ...basic, clientSecret: `${SERVICE_SECRET}x` }),
      ).rejects.toMatchObject({ error: 'invalid_client' })
      await expect(
        registry.authenticate({ ...basic, clientId: 'nobody', clientSecret: SERVICE_SECRET }),
      ).rejects.toMatchObject({ error: 'invalid_client' })
    }
  })

  it('refuses a digest that is not a function at construction', () => {
    expect(() => createClientRegistry([], { sha256: 'sha256' as never })).toThrow(TypeError)
  })
})

describe('createOAuthContext with nodeOAuthCrypto', () => {
  it('authenticates and mints with the injected primitives', async () => {
    const config = parseOAuthConfig(await testConfig({ keys: [configKey('ES384', 'active')] }))
    const store = createMemoryStore({ now: clock })
    const oauth = await createOAuthContext({
      config,
      store,
      revoker: createOAuthRevoker({ store, now: clock }),
      passwords: testPasswords,
      clock,
      crypto: nodeOAuthCrypto,
    })
    const client = await oauth.clients.authenticate({
      method: 'client_secret_basic',
      clientId: 'service',
      clientSecret: SERVICE_SECRET,
    })
    const { token } = await oauth.signer.accessToken({
      sub: client.id,
      clientId: client.id,
      scope: 'read',
      aud: API,
    })
    const { payload } = await jwtVerify(token, await importJWK(publicJwk('ES384'), 'ES384'), {
      typ: 'at+jwt',
      issuer: ISSUER,
      audience: API,
      currentDate: new Date(NOW),
    })
    expect(payload).toMatchObject({ sub: 'service', client_id: 'service', scope: 'read' })
  })
})
