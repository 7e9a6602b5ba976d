/**
 * Property tests: hostile input never produces anything but an AuthError (no TypeError, no
 * unhandled rejection), and no mutation of a valid token ever verifies.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import { createStaticKeySet } from '../../../src/core/jwks.ts'
import { parseCompactJws } from '../../../src/core/jws.ts'
import { createAccessTokenVerifier, type AccessTokenVerifier } from '../../../src/core/verify.ts'
import { nodeSignatureCheck } from '../../../src/entry/node-signature.ts'
import {
  publicJwks,
  signTestToken,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestAlg,
} from '../../fixtures/keys.ts'
import { fixedClock, NOW_SECONDS } from './helpers.ts'

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const ALGS: TestAlg[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']

let verifiers: AccessTokenVerifier[]
const tokens: string[] = []

beforeAll(async () => {
  const keys = await createStaticKeySet(publicJwks())
  const options = {
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    keys,
    now: fixedClock(NOW_SECONDS),
  }
  verifiers = [
    createAccessTokenVerifier(options),
    createAccessTokenVerifier({ ...options, checkSignature: nodeSignatureCheck }),
  ]
  for (const alg of ALGS)
    tokens.push(await signTestToken({ scope: 'a b' }, { alg, now: NOW_SECONDS }))
})

function parseThrowsOnlyAuthError(input: string) {
  try {
    parseCompactJws(input)
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError)
  }
}

async function neverVerifies(token: string) {
  for (const verifier of verifiers) {
    const error = await verifier.verify(token).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error, token).toBeInstanceOf(AuthError)
  }
}

const b64urlOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Strings shaped like tokens: three or so segments of base64url of random bytes or random JSON. */
const tokenLike = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.jsonValue({ maxDepth: 2 }).map(b64urlOf),
      fc
        .record({ alg: fc.constantFrom('ES256', 'none', 'HS256', 'RS256'), kid: fc.string() })
        .map(b64urlOf),
      fc.string({ unit: fc.constantFrom(...B64URL.split('')), maxLength: 90 }),
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((parts) => parts.join('.'))

describe('hostile input', () => {
  it('the parser throws only AuthError on random strings and token-like strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          tokenLike,
        ),
        (s) => parseThrowsOnlyAuthError(s),
      ),
      { numRuns: 3000 },
    )
  })

  it('the parser throws only AuthError on random bytes decoded as text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) =>
        parseThrowsOnlyAuthError(Buffer.from(bytes).toString('latin1')),
      ),
      { numRuns: 2000 },
    )
  })

  it('the verifier rejects random and token-like strings with AuthError only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), tokenLike), neverVerifies),
      {
        numRuns: 500,
      },
    )
  })
})

describe('mutations of valid tokens never verify', () => {
  const tokenIndex = fc.integer({ min: 0, max: ALGS.length - 1 })

  it('flipping one character', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenIndex,
        fc.nat(),
        fc.constantFrom(...`${B64URL}.=+/ \u00e9\u0000`.split('')),
        async (index, position, char) => {
          const token = tokens[index]!
          const at = position % token.length
          fc.pre(token[at] !== char)
          await neverVerifies(token.slice(0, at) + char + token.slice(at + 1))
        },
      ),
      { numRuns: 400 },
    )
  })

  it('dropping, duplicating, reordering or truncating segments', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenIndex,
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 5 }),
        fc.nat(),
        async (index, order, cut) => {
          const parts = tokens[index]!.split('.')
          const mutated = order.map((i) => parts[i]!).join('.')
          fc.pre(mutated !== tokens[index])
          await neverVerifies(mutated)
          await neverVerifies(tokens[index]!.slice(0, cut % tokens[index]!.length))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('changing header fields without re-signing', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenIndex,
        fc.constantFrom('alg', 'kid', 'typ', 'jwk', 'crit', 'x5u', 'extra'),
        fc.oneof(
          fc.constantFrom(
            'none',
            'HS256',
            'ES256',
            'RS256',
            'PS256',
            'EdDSA',
            'ES384',
            'at+jwt',
            '',
          ),
          fc.jsonValue(),
        ),
        async (index, name, value) => {
          const [h, p, s] = tokens[index]!.split('.')
          const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<
            string,
            unknown
          >
          const changed = { ...header, [name]: value }
          fc.pre(JSON.stringify(changed) !== JSON.stringify(header))
          await neverVerifies(`${b64urlOf(changed)}.${p}.${s}`)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('the unmutated tokens do verify (the properties above are not vacuous)', async () => {
    for (const token of tokens) {
      for (const verifier of verifiers) await expect(verifier.verify(token)).resolves.toBeDefined()
    }
  })
})
