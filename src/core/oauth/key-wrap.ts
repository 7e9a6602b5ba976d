/**
 * Private signing keys at rest in L2, encrypted under a key-encryption key (KEK) only the origins
 * hold (docs/keys.md, "Where private keys live"). The format is a compact JWE (RFC 7516) with
 * `alg: dir`, `enc: A256GCM` (RFC 7518 §4.5, §5.3) and the KEK's `kid`: the ciphertext is
 * authenticated, so a changed byte fails to decrypt rather than yielding another key. After
 * decryption the private key must belong to the public JWK published under the same kid, so a
 * wrapped key copied onto another record is refused.
 *
 * @example
 * const keks = await importKeyEncryptionKeys(config.keyEncryptionKeys)
 * const wrapped = await wrapPrivateKey(keks, privateJwk)
 * const jwk = await unwrapPrivateKey(keks, wrapped, record.jwk)
 */
import { CompactEncrypt, compactDecrypt, type JWK } from 'jose'
import { decodeBase64Url, encodeBase64Url } from '../base64url.ts'
import type { PublicSigningJwk } from '../published-key-set.ts'
import type { KeyEncryptionKeyConfig } from './key-lifecycle-config.ts'

/** Imported KEKs: the first wraps, every one unwraps (by `kid`). */
export interface KeyEncryptionKeys {
  readonly wrapping: { kid: string; key: CryptoKey }
  byKid(kid: string): CryptoKey | undefined
}

/** A wrapped key that cannot be opened: unknown KEK, damaged, or not the published key's pair. */
export class KeyUnwrapError extends Error {
  override readonly name = 'KeyUnwrapError'
}

/**
 * Imports the configured KEKs as non-extractable AES-GCM keys. Throws a TypeError for an empty list.
 *
 * @example const keks = await importKeyEncryptionKeys([{ kty: 'oct', kid: 'kek-1', k: '…' }])
 */
export async function importKeyEncryptionKeys(
  configured: readonly KeyEncryptionKeyConfig[],
): Promise<KeyEncryptionKeys> {
  if (configured.length === 0) throw new TypeError('at least one key-encryption key is needed')
  const imported = await Promise.all(
    configured.map(async (jwk) => ({
      kid: jwk.kid,
      key: await crypto.subtle.importKey(
        'raw',
        new Uint8Array(decodeBase64Url(jwk.k) ?? new Uint8Array(0)),
        { name: 'AES-GCM' },
        false,
        ['encrypt', 'decrypt'],
      ),
    })),
  )
  const byKid = new Map(imported.map((k) => [k.kid, k.key]))
  return { wrapping: imported[0]!, byKid: (kid) => byKid.get(kid) }
}

/**
 * A fresh 256-bit KEK as an `oct` JWK, for the keys file.
 *
 * @example JSON.stringify(generateKeyEncryptionKey('kek-2026'))
 */
export function generateKeyEncryptionKey(kid: string): KeyEncryptionKeyConfig {
  const k = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)))
  return { kty: 'oct', kid, k, alg: 'A256GCM', use: 'enc' }
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const

/**
 * Encrypts a private JWK (with `kid` and `alg`) under the first KEK.
 *
 * @example const wrapped = await wrapPrivateKey(keks, { ...privateJwk, kid, alg: 'ES256' })
 */
export async function wrapPrivateKey(keks: KeyEncryptionKeys, privateJwk: JWK): Promise<string> {
  const plaintext = new TextEncoder().encode(JSON.stringify(privateJwk))
  return new CompactEncrypt(plaintext)
    .setProtectedHeader({
      alg: 'dir',
      enc: 'A256GCM',
      kid: keks.wrapping.kid,
      cty: 'jwk+json',
    })
    .encrypt(keks.wrapping.key)
}

/**
 * Decrypts a wrapped key and checks it is the private half of `published` (same kid, alg and public
 * members). Throws `KeyUnwrapError` (never with key material in the message).
 *
 * @example const privateJwk = await unwrapPrivateKey(keks, record.wrapped, record.jwk)
 */
export async function unwrapPrivateKey(
  keks: KeyEncryptionKeys,
  wrapped: string,
  published: PublicSigningJwk,
): Promise<JWK> {
  let jwk: JWK
  try {
    const { plaintext } = await compactDecrypt(
      wrapped,
      async (header) => {
        const key = typeof header.kid === 'string' ? keks.byKid(header.kid) : undefined
        if (!key) throw new KeyUnwrapError('wrapped with a key-encryption key we do not hold')
        return key
      },
      { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] },
    )
    jwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK
  } catch (e) {
    if (e instanceof KeyUnwrapError) throw e
    throw new KeyUnwrapError('the wrapped key does not decrypt')
  }
  const record = published as unknown as Record<string, unknown>
  const mine = jwk as Record<string, unknown>
  if (
    mine['kid'] !== published.kid ||
    mine['alg'] !== published.alg ||
    typeof mine['d'] !== 'string' ||
    PUBLIC_MEMBERS.some((m) => mine[m] !== record[m])
  )
    throw new KeyUnwrapError('the wrapped key is not the private half of the published key')
  return jwk
}
