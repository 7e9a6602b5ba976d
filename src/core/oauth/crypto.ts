/**
 * Small WebCrypto helpers shared by the OAuth core: random opaque values, SHA-256 digests used as
 * store keys (so the store never holds a usable token), constant-time comparison and the AES-GCM
 * envelope that keeps a rotated refresh token's successor readable only by the holder of the old one.
 * Runtime-free: `crypto.subtle` and `crypto.getRandomValues` only.
 */
import { decodeBase64Url, encodeBase64Url } from '../base64url.ts'

const encoder = new TextEncoder()

/**
 * Random bytes come from a pool refilled 4 KiB at a time: each `getRandomValues` call has a fixed cost
 * (~3 µs on Node 22 here, 4% of a `/token` request) that dwarfs 16 bytes. The bytes are the same CSPRNG
 * output either way (Node's `randomUUID` keeps such a cache too). Filled lazily, never at module
 * scope (Workers refuse random values outside a request).
 */
const POOL_BYTES = 4096
const pool = new Uint8Array(POOL_BYTES)
let poolOffset = POOL_BYTES

/**
 * A random value of `bytes` bytes, base64url-encoded. 32 bytes = 256 bits for refresh tokens, codes
 * and session secrets; 16 bytes = 128 bits for `jti` (DESIGN.md, Tokens).
 *
 * @example const refreshToken = randomToken(32) // 43 characters
 */
export function randomToken(bytes: number): string {
  if (bytes > POOL_BYTES) return encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)))
  if (poolOffset + bytes > POOL_BYTES) {
    crypto.getRandomValues(pool)
    poolOffset = 0
  }
  const end = poolOffset + bytes
  const token = encodeBase64Url(pool.subarray(poolOffset, end))
  // Each byte is handed out once and does not linger after use.
  pool.fill(0, poolOffset, end)
  poolOffset = end
  return token
}

/**
 * SHA-256 of a UTF-8 string, base64url-encoded, as a pluggable step: {@link sha256} (WebCrypto) is the
 * default; the Node entry injects a synchronous `node:crypto` one (`nodeSha256`), ~2 µs against
 * ~85 µs of WebCrypto's queued job (measured on Node 22 here), because client authentication hashes
 * the presented secret on every `/token` request.
 */
export type Sha256 = (value: string) => string | Promise<string>

/**
 * SHA-256 of a UTF-8 string, base64url-encoded. Used to key records by a token without storing it.
 *
 * @example await sha256(refreshToken) // 43-character store key suffix
 */
export async function sha256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(value))
  return encodeBase64Url(new Uint8Array(digest))
}

/**
 * Compares two strings in time independent of where they differ (only their lengths leak, and callers
 * compare fixed-length digests). Used for client secrets and session secrets.
 *
 * @example timingSafeEqual(await sha256(presented), storedHash)
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a)
  const y = encoder.encode(b)
  let diff = x.length ^ y.length
  const n = Math.max(x.length, y.length)
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0)
  return diff === 0
}

async function envelopeKey(secret: string, usage: KeyUsage): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
    'deriveKey',
  ])
  // HKDF with its own `info`, so the key is independent of the SHA-256 digest used as the store key.
  return crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: encoder.encode('gatehouse'),
      info: encoder.encode('refresh-successor'),
    },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage],
  )
}

/**
 * Encrypts `plaintext` under a key derived from `secret` (HKDF-SHA-256 → AES-256-GCM, random IV).
 * Only a holder of `secret` can read it back; the store sees `iv || ciphertext` only.
 *
 * @example const sealed = await seal(oldRefreshToken, successorRefreshToken)
 */
export async function seal(secret: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const key = await envelopeKey(secret, 'encrypt')
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, encoder.encode(plaintext)),
  )
  const out = new Uint8Array(iv.length + ct.length)
  out.set(iv)
  out.set(ct, iv.length)
  return encodeBase64Url(out)
}

/**
 * Reverses {@link seal}; `undefined` if the secret is wrong or the envelope was tampered with.
 *
 * @example const successor = await unseal(oldRefreshToken, record.successor)
 */
export async function unseal(secret: string, sealed: string): Promise<string | undefined> {
  try {
    const bytes = decodeBase64Url(sealed)
    if (bytes === undefined || bytes.length < 13) return undefined
    const key = await envelopeKey(secret, 'decrypt')
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, 12) },
      key,
      bytes.subarray(12),
    )
    return new TextDecoder().decode(pt)
  } catch {
    return undefined
  }
}
