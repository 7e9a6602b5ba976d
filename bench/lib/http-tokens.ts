/**
 * Fast, synchronous signing of many ES256 access tokens for the HTTP benchmark (a cold-token pool of
 * tens of thousands per runtime, and 100k for the L1 memory check). Same key, header and claims as
 * bench/lib/tokens.ts `signPool` (which signs through jose, ~10× slower per token), so the tokens
 * are byte-for-byte the same shape the other benchmarks use: RFC 9068 `typ: at+jwt`, ~700 bytes.
 */
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto'
import { privateJwks, TEST_AUDIENCE, TEST_ISSUER } from '../../test/fixtures/keys.ts'

export { TEST_AUDIENCE, TEST_ISSUER }

const jwk = privateJwks.ES256

let key: KeyObject | undefined
const HEADER = Buffer.from(JSON.stringify({ alg: 'ES256', kid: jwk.kid, typ: 'at+jwt' })).toString(
  'base64url',
)

/**
 * A new, distinct, valid ES256 access token (random `jti` and `sid`), valid for `lifetimeSeconds`,
 * with `extraClaims` added or overriding (bench:policy gives its users roles).
 *
 * @example const token = signEs256Token(42)
 */
export function signEs256Token(
  index: number,
  lifetimeSeconds = 900,
  extraClaims: Record<string, unknown> = {},
): string {
  key ??= createPrivateKey({ key: jwk as never, format: 'jwk' })
  const now = Math.floor(Date.now() / 1000)
  const payload = {
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    sub: `user-${index}`,
    iat: now,
    exp: now + lifetimeSeconds,
    jti: randomBytes(16).toString('base64url'),
    client_id: 'client-1',
    scope: 'openid profile email offline_access orders:read orders:write invoices:read',
    sid: crypto.randomUUID(),
    auth_time: now - 60,
    acr: 'urn:gatehouse:acr:pwd',
    amr: ['pwd'],
    ...extraClaims,
  }
  const input = `${HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  // RFC 7518 §3.4: JWS carries the ECDSA signature as R ‖ S (IEEE P1363), not DER.
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

/** `count` distinct tokens. */
export function signEs256Tokens(count: number, lifetimeSeconds = 900): string[] {
  return Array.from({ length: count }, (_, i) => signEs256Token(i, lifetimeSeconds))
}
