import { createHmac, generateKeyPairSync } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { AuthError, type AuthErrorCode } from '../../../src/core/errors.ts'
import { createStaticKeySet, type KeySet } from '../../../src/core/jwks.ts'
import {
  createAccessTokenVerifier,
  webCryptoSignatureCheck,
  type AccessTokenVerifierOptions,
} from '../../../src/core/verify.ts'
import { nodeSignatureCheck } from '../../../src/entry/node-signature.ts'
import {
  publicJwk,
  publicJwks,
  signTestToken,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestAlg,
} from '../../fixtures/keys.ts'
import { defaultClaims, fixedClock, NOW_SECONDS, signObjects, signRaw } from './helpers.ts'

const ALGS: TestAlg[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']
let keys: KeySet

beforeAll(async () => {
  keys = await createStaticKeySet(publicJwks())
})

const verifier = (options: Partial<AccessTokenVerifierOptions> = {}) =>
  createAccessTokenVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    keys,
    now: fixedClock(NOW_SECONDS),
    ...options,
  })

async function rejection(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(AuthError)
  return error as AuthError
}

async function expectCode(token: string, code: AuthErrorCode, options = {}) {
  const error = await rejection(verifier(options).verify(token))
  expect(error.code).toBe(code)
  // Errors are safe to show: never the token or any part of it.
  for (const part of token.split('.')) {
    if (part.length > 8) expect(error.description).not.toContain(part)
  }
  return error
}

describe('createAccessTokenVerifier', () => {
  describe.each([
    ['webcrypto', webCryptoSignatureCheck],
    ['node:crypto', nodeSignatureCheck],
  ])('with the %s signature check', (_name, checkSignature) => {
    it.each(ALGS)('verifies a %s token and returns header and claims', async (alg) => {
      const token = await signTestToken({ scope: 'read' }, { alg, now: NOW_SECONDS })
      const { header, claims } = await verifier({ checkSignature }).verify(token)
      expect(header).toMatchObject({ alg, typ: 'at+jwt', kid: publicJwk(alg).kid })
      expect(claims).toMatchObject({ iss: TEST_ISSUER, sub: 'user-1', scope: 'read' })
    })

    it.each(ALGS)('rejects a %s token with a changed payload', async (alg) => {
      const token = await signTestToken({}, { alg, now: NOW_SECONDS })
      const [h, , s] = token.split('.')
      const forged = Buffer.from(JSON.stringify(defaultClaims({ sub: 'admin' }))).toString(
        'base64url',
      )
      const error = await rejection(verifier({ checkSignature }).verify(`${h}.${forged}.${s}`))
      expect(error.code).toBe('signature_invalid')
    })
  })

  describe('typ (RFC 9068 §4 step 1)', () => {
    it.each(['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT'])(
      'accepts %s',
      async (typ) => {
        await expect(
          verifier().verify(signObjects({ typ }, defaultClaims())),
        ).resolves.toBeDefined()
      },
    )

    it.each(['JWT', 'jwt', 'application/jwt', 'at+jwt ', 'xapplication/at+jwt'])(
      'rejects %s',
      async (typ) => {
        await expectCode(signObjects({ typ }, defaultClaims()), 'type_mismatch')
      },
    )

    it('rejects a token without typ', async () => {
      await expectCode(signObjects({ typ: undefined }, defaultClaims()), 'type_mismatch')
    })

    it('accepts any typ with expectedType: false, and a configured one', async () => {
      const token = signObjects({ typ: undefined }, defaultClaims())
      await expect(verifier({ expectedType: false }).verify(token)).resolves.toBeDefined()
      const jwt = signObjects({ typ: 'JWT' }, defaultClaims())
      await expect(verifier({ expectedType: 'application/JWT' }).verify(jwt)).resolves.toBeDefined()
      await expectCode(signObjects({}, defaultClaims()), 'type_mismatch', { expectedType: 'jwt' })
    })
  })

  describe('a header segment that verified before (remembered per verifier)', () => {
    it('still checks every later token: its signature, its claims, its key', async () => {
      let current = keys
      const switchable: KeySet = {
        getKey: (kid, alg) => current.getKey(kid, alg),
        knownKey: (kid, alg) => current.knownKey?.(kid, alg),
      }
      const verify = verifier({ keys: switchable, checkSignature: nodeSignatureCheck })
      const token = await signTestToken({}, { alg: 'RS256', now: NOW_SECONDS })
      await expect(verify.verify(token)).resolves.toBeDefined()
      const [h, , s] = token.split('.')
      const forged = Buffer.from(JSON.stringify(defaultClaims({ sub: 'admin' }))).toString(
        'base64url',
      )
      expect((await rejection(verify.verify(`${h}.${forged}.${s}`))).code).toBe('signature_invalid')
      const expired = await signTestToken({}, { alg: 'RS256', now: NOW_SECONDS - 7200 })
      expect(expired.split('.')[0]).toBe(h)
      expect((await rejection(verify.verify(expired))).code).toBe('token_expired')
      current = await createStaticKeySet({
        keys: publicJwks().keys.filter((k) => k.alg !== 'RS256'),
      })
      expect((await rejection(verify.verify(token))).code).toBe('kid_unknown')
    })

    it('gives every caller a header of its own', async () => {
      const verify = verifier()
      const token = await signTestToken({}, { alg: 'ES256', now: NOW_SECONDS })
      const first = await verify.verify(token)
      first.header.kid = 'changed'
      const second = await verify.verify(token)
      expect(second.header.kid).toBe(publicJwk('ES256').kid)
      second.header.alg = 'none'
      expect((await verify.verify(token)).header.alg).toBe('ES256')
    })
  })

  describe('header', () => {
    it.each(['jwk', 'jku', 'x5u', 'x5c'])('rejects a signed token carrying "%s"', async (name) => {
      await expectCode(
        signObjects({ [name]: name === 'x5c' ? [] : 'x' }, defaultClaims()),
        'header_untrusted',
      )
    })

    it.each([[['exp']], [[]], ['b64']])('rejects crit %j (RFC 7515 §4.1.11)', async (crit) => {
      await expectCode(signObjects({ crit, b64: true }, defaultClaims()), 'crit_unsupported')
    })

    it('rejects alg none in any case, signed or not', async () => {
      const claims = Buffer.from(JSON.stringify(defaultClaims())).toString('base64url')
      for (const alg of ['none', 'NONE', 'None']) {
        const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt' })).toString('base64url')
        await expectCode(`${header}.${claims}.`, 'alg_not_allowed')
      }
    })

    it('rejects HS256 signed with the public key as the secret (RFC 8725 §2.1)', async () => {
      const header = { alg: 'HS256', kid: 'test-es256', typ: 'at+jwt' }
      const input = [header, defaultClaims()]
        .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
        .join('.')
      for (const secret of [JSON.stringify(publicJwk('ES256')), publicJwk('ES256').x!]) {
        const mac = createHmac('sha256', secret).update(input).digest('base64url')
        await expectCode(`${input}.${mac}`, 'alg_not_allowed')
      }
    })

    it('rejects a token whose alg differs from the key’s', async () => {
      const token = signObjects({ kid: 'test-es256', alg: 'ES384' }, defaultClaims(), 'ES384')
      await expectCode(token, 'alg_not_allowed')
      const rs = signObjects({ kid: 'test-rs256', alg: 'PS256' }, defaultClaims(), 'PS256')
      await expectCode(rs, 'alg_not_allowed')
    })

    it('rejects an unknown kid with kid_unknown', async () => {
      await expectCode(signObjects({ kid: 'nope' }, defaultClaims()), 'kid_unknown')
    })

    it('accepts a token without kid only when one key allows its alg', async () => {
      const token = signObjects({ kid: undefined }, defaultClaims())
      await expect(verifier().verify(token)).resolves.toBeDefined()
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const other = { ...publicKey.export({ format: 'jwk' }), kid: 'other', alg: 'ES256' }
      const two = await createStaticKeySet({ keys: [publicJwk('ES256'), other] })
      await expectCode(token, 'kid_unknown', { keys: two })
    })

    it('rejects duplicate names in header or payload even when signed', async () => {
      const claims = JSON.stringify(defaultClaims())
      await expectCode(
        signRaw('{"alg":"ES256","typ":"at+jwt","alg":"ES256"}', claims),
        'token_malformed',
      )
      await expectCode(
        signRaw('{"alg":"ES256","typ":"at+jwt"}', claims.replace('{', '{"sub":"admin",')),
        'token_malformed',
      )
      await expectCode(
        signRaw('{"alg":"ES256","typ":"at+jwt","\\u0061lg":"ES256"}', claims),
        'token_malformed',
      )
    })

    it('rejects a payload that is not a JSON object', async () => {
      for (const payload of ['[]', '"x"', '1', 'not json', '']) {
        await expectCode(signRaw('{"alg":"ES256","typ":"at+jwt"}', payload), 'token_malformed')
      }
    })
  })

  describe('shape', () => {
    it('caps the length (8 KiB by default, configurable)', async () => {
      const big = await signTestToken({ pad: 'x'.repeat(9000) }, { now: NOW_SECONDS })
      await expectCode(big, 'token_too_large')
      const small = await signTestToken({}, { now: NOW_SECONDS })
      await expectCode(small, 'token_too_large', { maxTokenLength: small.length - 1 })
      await expect(verifier({ maxTokenLength: small.length }).verify(small)).resolves.toBeDefined()
    })

    it('requires exactly three segments', async () => {
      const [h, p, s] = (await signTestToken({}, { now: NOW_SECONDS })).split('.')
      for (const bad of [
        `${h}.${p}`,
        `${h}.${p}.${s}.`,
        `${h}.${p}.${s}.${s}`,
        `${h}`,
        '',
        '..',
        `.${h}.${p}.${s}`,
      ]) {
        await expectCode(bad, 'token_malformed')
      }
    })

    it('rejects non-canonical base64url in any segment', async () => {
      const [h, p, s] = (await signTestToken({}, { now: NOW_SECONDS })).split('.')
      for (const bad of [
        `${h}=.${p}.${s}`,
        `${h}.${p} .${s}`,
        `${h}.${p}.${s}==`,
        // Always a change: a signature need not contain `-` or `_` to swap for their base64 twins.
        `${h}.${p}.+${s!.slice(1)}`,
        `${h}.${p}./${s!.slice(1)}`,
      ]) {
        await expectCode(bad, 'token_malformed')
      }
    })

    it('rejects a signature of the wrong length before any crypto', async () => {
      const token = await signTestToken({}, { now: NOW_SECONDS })
      const [h, p, s] = token.split('.')
      const der = Buffer.concat([Buffer.from([0]), Buffer.from(s!, 'base64url')]).toString(
        'base64url',
      )
      await expectCode(`${h}.${p}.${der}`, 'signature_invalid')
      await expectCode(`${h}.${p}.`, 'signature_invalid')
    })

    it('holds each token to its own key’s signature length, with keys taking turns', async () => {
      const algs: TestAlg[] = ['RS256', 'ES256', 'RS256', 'EdDSA', 'ES384', 'PS256', 'RS256']
      const tokens = await Promise.all(
        algs.map((alg) => signTestToken({}, { alg, now: NOW_SECONDS })),
      )
      for (const checkSignature of [webCryptoSignatureCheck, nodeSignatureCheck]) {
        const v = verifier({ checkSignature })
        for (const [i, token] of tokens.entries()) {
          await expect(v.verify(token)).resolves.toBeDefined()
          // The previous token's signature (another key's length, or another token's bytes).
          const [h, p] = token.split('.')
          const previous = tokens[(i + tokens.length - 1) % tokens.length]!.split('.')[2]
          const error = await rejection(v.verify(`${h}.${p}.${previous}`))
          expect(error.code).toBe('signature_invalid')
        }
      }
    })

    it('rejects a non-string token with token_malformed', async () => {
      for (const value of [undefined, null, 42, {}]) {
        const error = await rejection(verifier().verify(value as unknown as string))
        expect(error.code).toBe('token_malformed')
      }
    })
  })

  describe('claims with a fixed clock', () => {
    const at = (seconds: number, leeway = 0) => ({
      now: fixedClock(seconds),
      clockLeewaySeconds: leeway,
    })
    const token = (claims: Record<string, unknown>) => signObjects({}, defaultClaims(claims))
    const exp = NOW_SECONDS + 300

    it('treats exactly exp as expired (RFC 7519 §4.1.4 "on or after")', async () => {
      await expect(verifier(at(exp - 0.001)).verify(token({}))).resolves.toBeDefined()
      await expectCode(token({}), 'token_expired', at(exp))
      await expectCode(token({}), 'token_expired', at(exp + 1))
    })

    it('applies the leeway to exp', async () => {
      await expect(verifier(at(exp + 29, 30)).verify(token({}))).resolves.toBeDefined()
      await expectCode(token({}), 'token_expired', at(exp + 30, 30))
    })

    it('checks nbf with the leeway', async () => {
      const nbf = NOW_SECONDS + 10
      await expectCode(token({ nbf }), 'token_not_yet_valid', at(nbf - 1))
      await expect(verifier(at(nbf)).verify(token({ nbf }))).resolves.toBeDefined()
      await expect(verifier(at(nbf - 5, 5)).verify(token({ nbf }))).resolves.toBeDefined()
      await expectCode(token({ nbf }), 'token_not_yet_valid', at(nbf - 6, 5))
    })

    it('rejects iat in the future beyond the leeway', async () => {
      const iat = NOW_SECONDS + 10
      await expectCode(token({ iat }), 'token_issued_in_future', at(NOW_SECONDS))
      await expect(verifier(at(NOW_SECONDS, 10)).verify(token({ iat }))).resolves.toBeDefined()
      await expectCode(token({ iat }), 'token_issued_in_future', at(NOW_SECONDS, 9))
    })

    it.each([
      ['exp missing', { exp: undefined }],
      ['exp a string', { exp: String(exp) }],
      ['exp infinite (1e400)', { exp: 'INFINITY' }],
      ['nbf a string', { nbf: '0' }],
      ['iat null', { iat: null }],
      ['sub missing', { sub: undefined }],
      ['sub empty', { sub: '' }],
      ['sub a number', { sub: 1 }],
      ['scope a number', { scope: 1 }],
      ['client_id an array', { client_id: ['a'] }],
      ['jti an object', { jti: {} }],
      ['sid a number', { sid: 5 }],
      ['aud with a non-string member', { aud: [TEST_AUDIENCE, 1] }],
    ])('rejects %s with claim_invalid', async (_why, claims) => {
      const json = JSON.stringify(defaultClaims(claims)).replace('"INFINITY"', '1e400')
      await expectCode(signRaw('{"alg":"ES256","typ":"at+jwt"}', json), 'claim_invalid')
    })

    it('checks iss exactly', async () => {
      for (const iss of [undefined, `${TEST_ISSUER}/`, TEST_ISSUER.toUpperCase(), [TEST_ISSUER]]) {
        await expectCode(token({ iss }), 'issuer_mismatch')
      }
    })

    it('accepts aud as a string or an array containing the audience', async () => {
      await expect(
        verifier().verify(token({ aud: ['other', TEST_AUDIENCE] })),
      ).resolves.toBeDefined()
      for (const aud of [undefined, 'other', ['other'], [], `${TEST_AUDIENCE}/`]) {
        await expectCode(token({ aud }), 'audience_mismatch')
      }
    })
  })

  describe('options', () => {
    it.each([
      ['leeway above 60', { clockLeewaySeconds: 61 }, RangeError],
      ['negative leeway', { clockLeewaySeconds: -1 }, RangeError],
      ['NaN leeway', { clockLeewaySeconds: Number.NaN }, RangeError],
      ['tiny maxTokenLength', { maxTokenLength: 3 }, RangeError],
      ['empty issuer', { issuer: '' }, TypeError],
      ['empty audience', { audience: '' }, TypeError],
      ['empty expectedType', { expectedType: '' }, TypeError],
      ['no key set', { keys: {} as KeySet }, TypeError],
    ])('rejects %s at construction', (_why, options, type) => {
      expect(() => verifier(options as Partial<AccessTokenVerifierOptions>)).toThrow(type)
    })

    it('maps a throwing custom key set to jwks_unavailable and a throwing check to signature_invalid', async () => {
      const token = await signTestToken({}, { now: NOW_SECONDS })
      const broken: KeySet = { getKey: () => Promise.reject(new Error('boom')) }
      await expectCode(token, 'jwks_unavailable', { keys: broken })
      const throwing = () => {
        throw new Error('boom')
      }
      await expectCode(token, 'signature_invalid', { checkSignature: throwing })
      await expectCode(token, 'signature_invalid', {
        checkSignature: () => 'yes' as unknown as boolean,
      })
    })
  })

  describe('bytes lent from the reused buffer to node:crypto (jws-scratch.ts)', () => {
    // Two tokens of one layout: the forged one has the first's payload and the second's signature.
    async function tokens() {
      const token = await signTestToken({ sub: 'user-1' }, { alg: 'RS256', now: NOW_SECONDS })
      const other = await signTestToken({ sub: 'user-2' }, { alg: 'RS256', now: NOW_SECONDS })
      expect(other.length).toBe(token.length)
      const forged = `${token.slice(0, token.lastIndexOf('.'))}${other.slice(other.lastIndexOf('.'))}`
      return { token, other, forged }
    }

    it('a key set that verifies another token on the way does not change what is checked', async () => {
      const { token, other, forged } = await tokens()
      const inner = verifier({ checkSignature: nodeSignatureCheck })
      const meddling: KeySet = {
        getKey: (kid, alg) => keys.getKey(kid, alg),
        knownKey: (kid, alg) => {
          void inner.verify(other)
          return keys.knownKey?.(kid, alg)
        },
      }
      const outer = verifier({ keys: meddling, checkSignature: nodeSignatureCheck })
      await expect(outer.verify(token)).resolves.toMatchObject({ claims: { sub: 'user-1' } })
      expect((await rejection(outer.verify(forged))).code).toBe('signature_invalid')
    })

    it('a key fetched after an await is checked against the token’s own bytes', async () => {
      const { token, other, forged } = await tokens()
      const inner = verifier({ checkSignature: nodeSignatureCheck })
      const fetching: KeySet = {
        getKey: async (kid, alg) => {
          await inner.verify(other)
          return keys.getKey(kid, alg)
        },
      }
      const outer = verifier({ keys: fetching, checkSignature: nodeSignatureCheck })
      await expect(outer.verify(token)).resolves.toMatchObject({ claims: { sub: 'user-1' } })
      expect((await rejection(outer.verify(forged))).code).toBe('signature_invalid')
    })

    it('only a check that says it is synchronous is lent them', () => {
      expect(nodeSignatureCheck.synchronous).toBe(true)
      expect(webCryptoSignatureCheck.synchronous).toBeUndefined()
    })
  })
})
