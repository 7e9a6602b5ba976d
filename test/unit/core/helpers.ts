/**
 * Test helpers for the verification core: raw token signing (any header/payload JSON text, even
 * duplicate names or forbidden members, so a rejection is proven to come from the check under test
 * and not from a bad signature), and a fixed clock.
 */
import { createPrivateKey, sign } from 'node:crypto'
import { privateJwks, TEST_AUDIENCE, TEST_ISSUER, type TestAlg } from '../../fixtures/keys.ts'

export const NOW_SECONDS = 1_750_000_000
export const fixedClock = (seconds: number) => () => seconds * 1000

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url')

/** Signs `headerJson.payloadJson` (raw JSON text) with a fixed test key. */
export function signRaw(headerJson: string, payloadJson: string, alg: TestAlg = 'ES256'): string {
  const input = `${b64url(headerJson)}.${b64url(payloadJson)}`
  const key = createPrivateKey({ key: privateJwks[alg], format: 'jwk' })
  const options =
    alg === 'ES256' || alg === 'ES384'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : alg === 'PS256'
        ? { key, padding: 6, saltLength: 32 }
        : { key }
  const hash = alg === 'EdDSA' ? null : alg === 'ES384' ? 'sha384' : 'sha256'
  return `${input}.${sign(hash, Buffer.from(input), options).toString('base64url')}`
}

export const defaultClaims = (overrides: Record<string, unknown> = {}) => ({
  iss: TEST_ISSUER,
  aud: TEST_AUDIENCE,
  sub: 'user-1',
  iat: NOW_SECONDS,
  exp: NOW_SECONDS + 300,
  jti: 'jti-1',
  client_id: 'client-1',
  ...overrides,
})

/** Signs an object header and payload (JSON.stringify) with a fixed test key. */
export function signObjects(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  alg: TestAlg = 'ES256',
): string {
  return signRaw(
    JSON.stringify({ alg, kid: privateJwks[alg].kid, typ: 'at+jwt', ...header }),
    JSON.stringify(payload),
    alg,
  )
}

/** A copy of `object` without the named members. */
export function omit<T extends object>(object: T, ...names: string[]): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([name]) => !names.includes(name)),
  ) as Partial<T>
}
