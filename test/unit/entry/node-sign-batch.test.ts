/**
 * The batched signer (node-sign-batch.ts): signatures asked for in one turn are made together, on a
 * worker thread or on the main thread, and each request gets the signature of its own input with its
 * own key — checked with node:crypto's verify against the public key, for many inputs and two keys in
 * one batch, across batches that overlap, and after a key the worker has never seen. A key that
 * cannot sign fails its own request only.
 */
import { createPublicKey, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { loadSigningKeys, type SigningKey } from '../../../src/core/oauth/keys.ts'
import { createBatchedJwsSign } from '../../../src/entry/node-sign-batch.ts'
import { publicJwk, type TestAlg } from '../../fixtures/keys.ts'
import { configKey } from '../oauth/support.ts'

const keyFor = async (alg: TestAlg): Promise<SigningKey> =>
  (await loadSigningKeys([configKey(alg, 'active')])).active

/** Whether `signature` (base64url) is `key`'s signature of `input`. */
function verifies(alg: TestAlg, input: string, signature: string): boolean {
  const key = createPublicKey({ key: publicJwk(alg) as never, format: 'jwk' })
  const data = Buffer.from(input, 'latin1')
  const sig = Buffer.from(signature, 'base64url')
  if (alg === 'ES256') return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
  return verify('sha256', data, key, sig)
}

describe.each([
  ['on a worker', true],
  ['on the main thread', false],
])('createBatchedJwsSign %s', (_name, thread) => {
  it('signs every input of a turn with its own key, across overlapping batches', async () => {
    const sign = createBatchedJwsSign({ thread })
    const es = await keyFor('ES256')
    const rs = await keyFor('RS256')
    const asks: { alg: TestAlg; input: string; signature: Promise<string> }[] = []
    for (let turn = 0; turn < 4; turn++) {
      for (let i = 0; i < 25; i++) {
        const alg: TestAlg = i % 3 === 0 ? 'RS256' : 'ES256'
        const input = `eyJ0ZXN0Ijp0cnVlfQ.${turn}-${i}-${'x'.repeat(i)}`
        asks.push({
          alg,
          input,
          signature: Promise.resolve(sign(alg === 'ES256' ? es : rs, input)),
        })
      }
      // The next asks land in a later turn, while the worker may still sign this one's.
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (const ask of asks) expect(verifies(ask.alg, ask.input, await ask.signature)).toBe(true)
    // A signature is not another input's.
    const [first, second] = asks
    expect(verifies(first!.alg, second!.input, await first!.signature)).toBe(false)
  })

  it('signs with a key first seen after the worker started', async () => {
    const sign = createBatchedJwsSign({ thread })
    const input = 'eyJhIjoxfQ.eyJiIjoyfQ'
    expect(verifies('ES256', input, await sign(await keyFor('ES256'), input))).toBe(true)
    expect(verifies('RS256', input, await sign(await keyFor('RS256'), input))).toBe(true)
  })

  it('fails only the request whose key cannot sign', async () => {
    const sign = createBatchedJwsSign({ thread })
    const es = await keyFor('ES256')
    const broken = { ...es, privateKey: {} as CryptoKey }
    const good = Promise.resolve(sign(es, 'eyJhIjoxfQ.e30'))
    const bad = Promise.resolve(sign(broken, 'eyJhIjoxfQ.e30'))
    await expect(bad).rejects.toThrow()
    expect(verifies('ES256', 'eyJhIjoxfQ.e30', await good)).toBe(true)
  })
})
