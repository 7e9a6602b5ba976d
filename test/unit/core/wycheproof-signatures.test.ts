/**
 * Raw-signature Wycheproof suites, run through BOTH signature implementations (WebCrypto and
 * node:crypto). Every `valid` vector must verify and every `invalid` one must fail. `acceptable`
 * (only RSA PKCS#1 tcId 8, "Missing NULL" in the DigestInfo, RFC 8017 §9.2 note 2): we do not
 * special-case it; both implementations reject it, the test pins that and requires they agree.
 */
import { describe, expect, it } from 'vitest'
import type { VerificationKey } from '../../../src/core/jwks.ts'
import { importJwk, type JwsKey } from '../../../src/core/keys.ts'
import { webCryptoSignatureCheck, type SignatureCheck } from '../../../src/core/verify.ts'
import { nodeSignatureCheck } from '../../../src/entry/node-signature.ts'
import type { SigningAlg } from '../../../src/core/types.ts'
import { omit } from './helpers.ts'
import { hexToBytes, loadVectors, type WycheproofResult } from './wycheproof.ts'

interface Group {
  publicKeyJwk?: JsonWebKey
  keyJwk?: JsonWebKey
  publicKey: { uncompressed?: string; curve?: string }
  tests: { tcId: number; comment: string; msg: string; sig: string; result: WycheproofResult }[]
}

const SUITES: { file: string; alg: SigningAlg; tests: number }[] = [
  { file: 'ecdsa_secp256r1_sha256_p1363_test.json', alg: 'ES256', tests: 262 },
  { file: 'ecdsa_secp384r1_sha384_p1363_test.json', alg: 'ES384', tests: 280 },
  { file: 'ed25519_test.json', alg: 'EdDSA', tests: 151 },
  { file: 'rsa_signature_2048_sha256_test.json', alg: 'RS256', tests: 259 },
  { file: 'rsa_pss_2048_sha256_mgf1_32_test.json', alg: 'PS256', tests: 108 },
]

const IMPLEMENTATIONS: [string, SignatureCheck][] = [
  ['webcrypto', webCryptoSignatureCheck],
  ['node:crypto', nodeSignatureCheck],
]

/** The acceptable vectors and what our verifier does with them (pinned, must be stable). */
const ACCEPTABLE_OUTCOME: Record<string, Record<number, boolean>> = {
  'rsa_signature_2048_sha256_test.json': { 8: false },
}

function groupJwk(group: Group): JsonWebKey {
  const jwk = group.publicKeyJwk ?? group.keyJwk
  if (jwk !== undefined) return jwk
  // A few ECDSA groups ship only the uncompressed point (04 ‖ X ‖ Y).
  const point = hexToBytes(group.publicKey.uncompressed!)
  const size = (point.length - 1) / 2
  return {
    kty: 'EC',
    crv: group.publicKey.curve === 'secp256r1' ? 'P-256' : 'P-384',
    x: Buffer.from(point.subarray(1, 1 + size)).toString('base64url'),
    y: Buffer.from(point.subarray(1 + size)).toString('base64url'),
  }
}

async function importGroupKey(group: Group, alg: SigningAlg): Promise<VerificationKey> {
  // Wycheproof JWKs carry kid "none" and sometimes alg; import for exactly this suite's algorithm.
  const [key] = await importJwk(omit(groupJwk(group), 'kid', 'alg'), { algorithms: [alg] })
  return key as JwsKey as VerificationKey
}

describe.each(SUITES)('wycheproof $file', ({ file, alg, tests }) => {
  const vectors = loadVectors<Group>(file)

  it(`has the expected ${tests} vectors`, () => {
    const count = vectors.testGroups.reduce((n, g) => n + g.tests.length, 0)
    expect(count).toBe(tests)
    expect(vectors.numberOfTests).toBe(tests)
  })

  it.each(IMPLEMENTATIONS)('every vector through %s', async (_name, check) => {
    const failures: string[] = []
    let run = 0
    for (const group of vectors.testGroups) {
      const key = await importGroupKey(group, alg)
      for (const t of group.tests) {
        const verified = await check(key, hexToBytes(t.msg), hexToBytes(t.sig))
        run++
        const expected =
          t.result === 'acceptable' ? ACCEPTABLE_OUTCOME[file]?.[t.tcId] : t.result === 'valid'
        if (verified !== expected) failures.push(`tcId ${t.tcId} (${t.result}): got ${verified}`)
      }
    }
    expect(failures).toEqual([])
    expect(run).toBe(tests)
  })
})
