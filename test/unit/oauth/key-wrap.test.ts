/** Private keys at rest in L2: wrapped under the KEK, opened only as the published key's pair. */
import { describe, expect, it } from 'vitest'
import {
  generateKeyEncryptionKey,
  importKeyEncryptionKeys,
  KeyUnwrapError,
  unwrapPrivateKey,
  wrapPrivateKey,
} from '../../../src/core/oauth/key-wrap.ts'
import type { KeyRecord } from '../../../src/core/published-key-set.ts'
import { privateJwks, publicJwk } from '../../fixtures/keys.ts'

const published = (alg: 'ES256' | 'EdDSA') => publicJwk(alg) as KeyRecord['jwk']

describe('key wrapping', () => {
  it('round-trips a private JWK, and the wrapped form shows none of it', async () => {
    const keks = await importKeyEncryptionKeys([generateKeyEncryptionKey('kek-1')])
    const wrapped = await wrapPrivateKey(keks, privateJwks.ES256)
    expect(wrapped).not.toContain(String(privateJwks.ES256.d))
    expect(JSON.parse(atob(wrapped.split('.')[0]!))).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: 'kek-1',
      cty: 'jwk+json',
    })
    expect(await unwrapPrivateKey(keks, wrapped, published('ES256'))).toEqual(privateJwks.ES256)
  })

  it('the first KEK wraps, every listed KEK unwraps (KEK rotation)', async () => {
    const [oldKek, newKek] = [generateKeyEncryptionKey('old'), generateKeyEncryptionKey('new')]
    const before = await wrapPrivateKey(await importKeyEncryptionKeys([oldKek]), privateJwks.EdDSA)
    const both = await importKeyEncryptionKeys([newKek, oldKek])
    expect(both.wrapping.kid).toBe('new')
    await expect(unwrapPrivateKey(both, before, published('EdDSA'))).resolves.toBeDefined()
  })

  it('refuses another KEK, a changed byte, and a wrapped key copied onto another record', async () => {
    const keks = await importKeyEncryptionKeys([generateKeyEncryptionKey('kek-1')])
    const wrapped = await wrapPrivateKey(keks, privateJwks.ES256)
    const stranger = await importKeyEncryptionKeys([generateKeyEncryptionKey('kek-1')])
    await expect(unwrapPrivateKey(stranger, wrapped, published('ES256'))).rejects.toThrow(
      KeyUnwrapError,
    )
    const parts = wrapped.split('.')
    const ciphertext = parts[3]!
    parts[3] = (ciphertext[0] === 'A' ? 'B' : 'A') + ciphertext.slice(1)
    await expect(unwrapPrivateKey(keks, parts.join('.'), published('ES256'))).rejects.toThrow(
      KeyUnwrapError,
    )
    const elsewhere = { ...published('EdDSA'), kid: 'test-es256' } as KeyRecord['jwk']
    await expect(unwrapPrivateKey(keks, wrapped, elsewhere)).rejects.toThrow(/private half/)
  })
})
