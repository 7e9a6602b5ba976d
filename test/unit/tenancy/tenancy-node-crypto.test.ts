// The tenant isolation cases on Node with the node:crypto signature check, which the Node origin's
// tenant verifiers use where `preferredSignatureCheck()` picks it (one core; src/entry/node-server.ts
// passes it to origin-tenancy.ts). Elsewhere they run with WebCrypto (tenancy-edge.test.ts, workerd).
import { describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import type { SignatureCheck } from '../../../src/core/signature.ts'
import { nodeSignatureCheck } from '../../../src/entry/node-signature.ts'
import { tenancyCases } from '../../shared/tenancy.case.ts'
import { tenancyFixture, tenantKey } from '../../shared/tenancy-fixture.ts'

let nodeChecks = 0
const countedNodeCheck: SignatureCheck = (key, data, signature) => {
  nodeChecks++
  return nodeSignatureCheck(key, data, signature)
}

tenancyCases({ checkSignature: countedNodeCheck })

/** An ECDSA R ‖ S signature (RFC 7518 §3.4) as ASN.1 DER, the encoding JWS does not use. */
function toDer(p1363: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let i = 0
    while (i < bytes.length - 1 && bytes[i] === 0) i++
    const trimmed = bytes.subarray(i)
    const body = (trimmed[0] as number) & 0x80 ? [0, ...trimmed] : [...trimmed]
    return [0x02, body.length, ...body]
  }
  const r = integer(p1363.subarray(0, 32))
  const s = integer(p1363.subarray(32))
  return new Uint8Array([0x30, r.length + s.length, ...r, ...s])
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')

describe('tenant verification with node:crypto', () => {
  it('a tenant verifier given node:crypto verifies with it and refuses the same forged tokens as with WebCrypto', async () => {
    const keys = {
      acme: await tenantKey('acme-key'),
      globex: await tenantKey('globex-key'),
      shared: await tenantKey('shared-kid'),
    }
    const edges = {
      web: await tenancyFixture(),
      node: await tenancyFixture({ checkSignature: countedNodeCheck }),
    }
    for (const f of Object.values(edges)) {
      await f.addTenant('acme', { key: keys.acme })
      await f.addTenant('globex', { key: keys.globex })
      await f.addTenant('initech', { key: keys.shared })
      await f.addTenant('hooli', { key: await tenantKey('shared-kid') })
    }
    // Every token is signed once, so both edges see the very same bytes.
    const f = edges.web
    const own = await f.sign('acme')
    const [head, body, signature] = own.split('.') as [string, string, string]
    const raw = new Uint8Array(Buffer.from(signature, 'base64url'))
    const flipped = raw.slice()
    flipped[10] = (flipped[10] as number) ^ 1
    const zeros = new Uint8Array(64)
    const tokens = {
      own,
      otherTenantsKey: await f.sign('globex', {}, { signWith: 'acme' }),
      sameKidOtherTenant: await f.sign('hooli', {}, { signWith: 'initech' }),
      signedForOtherIss: await f.sign('acme', { iss: 'https://auth.example.test/t/globex' }),
      derSignature: `${head}.${body}.${b64(toDer(raw))}`,
      flippedBit: `${head}.${body}.${b64(flipped)}`,
      zeroSignature: `${head}.${body}.${b64(zeros)}`,
      truncated: `${head}.${body}.${b64(raw.subarray(0, 63))}`,
      otherPayload: `${head}.${(await f.sign('acme', { sub: 'mallory' })).split('.')[1]}.${signature}`,
    }
    const outcome = async (edge: typeof f, token: string) =>
      edge.verifier.verify(token).then(
        (v) => `ok:${v.tenant}`,
        (e: unknown) => (e instanceof AuthError ? e.code : `not an AuthError: ${String(e)}`),
      )
    const before = nodeChecks
    const results: Record<string, [string, string]> = {}
    for (const [name, token] of Object.entries(tokens))
      results[name] = [await outcome(edges.web, token), await outcome(edges.node, token)]
    expect(nodeChecks).toBeGreaterThan(before)
    for (const [name, [web, node]] of Object.entries(results)) {
      expect({ name, node }).toEqual({ name, node: web })
      if (name !== 'own')
        expect({ name, refused: !web.startsWith('ok:') }).toEqual({ name, refused: true })
    }
    expect(results.own).toEqual(['ok:acme', 'ok:acme'])
    expect(results.derSignature?.[1]).toBe('signature_invalid')
    expect(results.sameKidOtherTenant?.[1]).toBe('signature_invalid')
  })
})
