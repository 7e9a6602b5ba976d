/**
 * Precedence in workerd (docs/configuration.md, Precedence): wrangler.toml ships a JWKS URL and a
 * default audience; bindings set on top (as a secret or `--var` would be) replace the toml value of
 * the same name, and an inline GATEHOUSE_JWKS beside the toml's GATEHOUSE_JWKS_URL is the key set
 * tokens are verified against. Issue 13: this used to answer 500 on every request.
 */
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { TEST_AUDIENCE, signTestToken, type TestAlg } from '../fixtures/keys.ts'

const call = (path: string, init?: RequestInit) =>
  exports.default.fetch(new Request(`http://gatehouse.test${path}`, init))

describe('a secret or --var over the toml defaults', () => {
  it('sees both the toml URL and the inline key set, and the replaced audience', () => {
    const bindings = env as unknown as Record<string, unknown>
    expect(bindings.GATEHOUSE_JWKS_URL).toBe('https://127.0.0.1:9/.well-known/jwks.json')
    expect(typeof bindings.GATEHOUSE_JWKS).toBe('string')
    expect(bindings.GATEHOUSE_AUDIENCE).toBe(TEST_AUDIENCE)
  })

  it('answers /healthz (the configuration is valid)', async () => {
    expect((await call('/healthz')).status).toBe(200)
  })

  for (const alg of ['ES256', 'EdDSA', 'RS256'] as TestAlg[]) {
    it(`verifies a ${alg} token against the inline key set, for the replaced audience`, async () => {
      const token = await signTestToken({ scope: 'read' }, { alg })
      const res = await call('/verify', { headers: { Authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ active: true, aud: TEST_AUDIENCE })
    })
  }

  it('refuses a token for the toml’s default audience, which the binding replaced', async () => {
    const token = await signTestToken({ aud: 'https://toml-default.test' })
    const res = await call('/verify', { headers: { Authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
  })
})
