/**
 * Signing keys and their publication: statuses (next and retiring published, retired not; exactly one
 * active signs), public members only, JWKS and discovery headers, atomic publication to L2 with a
 * monotonic version, and the shared development key.
 */
import { decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/core/oauth/config.ts'
import { loadSigningKeys } from '../../../src/core/oauth/keys.ts'
import { publicJwk } from '../../fixtures/keys.ts'
import { ISSUER, SERVICE_SECRET, basic, configKey, createHarness, postForm } from './support.ts'

const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi']
const rotationKeys = [
  configKey('ES256', 'retiring'),
  configKey('EdDSA', 'active'),
  configKey('RS256', 'next'),
  configKey('PS256', 'retired'),
]

describe('signing keys', () => {
  it('publishes next, active and retiring keys, public members only; the active key signs', async () => {
    const h = await createHarness({ config: { keys: rotationKeys } })
    const response = await h.fetch(`${ISSUER}/.well-known/jwks.json`)
    expect(response.headers.get('cache-control')).toBe('public, max-age=300')
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] }
    expect(jwks.keys.map((k) => k['kid']).sort()).toEqual([
      'test-eddsa',
      'test-es256',
      'test-rs256',
    ])
    for (const key of jwks.keys) {
      for (const m of PRIVATE) expect(key).not.toHaveProperty(m)
      expect(key).not.toHaveProperty('status')
    }
    expect(jwks.keys.find((k) => k['kid'] === 'test-es256')).toEqual({ ...publicJwk('ES256') })
    const token = await postForm(
      h,
      '/token',
      { grant_type: 'client_credentials' },
      { authorization: basic('service', SERVICE_SECRET) },
    )
    const { access_token } = (await token.json()) as { access_token: string }
    expect(decodeProtectedHeader(access_token)).toMatchObject({ alg: 'EdDSA', kid: 'test-eddsa' })
  })

  it('accepts a retiring key without private members, refuses an active one', async () => {
    const publicOnly = { ...configKey('ES256', 'retiring') }
    delete publicOnly['d']
    await expect(loadSigningKeys([publicOnly, configKey('EdDSA', 'active')])).resolves.toBeDefined()
    await expect(loadSigningKeys([{ ...publicOnly, status: 'active' }])).rejects.toThrow(
      ConfigError,
    )
  })

  it('refuses a key whose type contradicts its alg', async () => {
    await expect(
      loadSigningKeys([{ ...configKey('ES256', 'active'), alg: 'ES384' }]),
    ).rejects.toThrow(/config\.keys\[0\]: alg ES384 needs kty EC crv P-384/)
  })

  it('discovery is cacheable, lists both well-known names and the active alg', async () => {
    const h = await createHarness({ config: { keys: rotationKeys } })
    const oidc = await h.fetch(`${ISSUER}/.well-known/openid-configuration`)
    const rfc8414 = await h.fetch(`${ISSUER}/.well-known/oauth-authorization-server`)
    expect(oidc.headers.get('cache-control')).toBe('public, max-age=300')
    const metadata = (await oidc.json()) as Record<string, unknown>
    expect(await rfc8414.json()).toEqual(metadata)
    expect(metadata['id_token_signing_alg_values_supported']).toEqual(['EdDSA'])
    expect(metadata['grant_types_supported']).toEqual([
      'authorization_code',
      'refresh_token',
      'client_credentials',
    ])
  })

  it('builds every URL from the issuer, never from the Host header', async () => {
    const h = await createHarness()
    const response = await h.fetch('https://evil.test/.well-known/openid-configuration', {
      headers: { host: 'evil.test' },
    })
    expect(JSON.stringify(await response.json())).not.toContain('evil.test')
  })

  it('serves an issuer with a path under that path (RFC 8414 §3.1 well-known too)', async () => {
    const h = await createHarness({ config: { issuer: 'https://auth.test/tenant' } })
    const metadata = (await (
      await h.fetch('https://auth.test/tenant/.well-known/openid-configuration')
    ).json()) as Record<string, string>
    expect(metadata['token_endpoint']).toBe('https://auth.test/tenant/token')
    expect(
      (await h.fetch('https://auth.test/.well-known/oauth-authorization-server/tenant')).status,
    ).toBe(200)
    const token = await h.fetch('https://auth.test/tenant/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('service', SERVICE_SECRET),
      },
      body: 'grant_type=client_credentials',
    })
    expect(token.status).toBe(200)
  })
})

describe('verification keys', () => {
  it('every published key verifies our tokens, next included (a rolling promote)', async () => {
    const keys = await loadSigningKeys(rotationKeys)
    expect((await keys.verificationKey('test-rs256'))?.status).toBe('next')
    expect((await keys.verificationKey('test-es256'))?.status).toBe('retiring')
    expect((await keys.verificationKey('test-eddsa'))?.status).toBe('active')
    expect(await keys.verificationKey('test-ps256')).toBeUndefined()
  })
})
