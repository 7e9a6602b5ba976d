/**
 * The Worker entry inside workerd with the remote key-set form: only the documented variables,
 * GATEHOUSE_JWKS_URL pointing at the issuer's JWKS (a loopback server of the test run, see
 * global-jwks.ts). The inline form is wrangler.test.toml's (routes.test.ts); both together are
 * test/workers-precedence.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import worker from '../../src/entry/worker.ts'
import { TEST_AUDIENCE, TEST_ISSUER, signTestToken, type TestAlg } from '../fixtures/keys.ts'

const urlEnv = () => ({
  GATEHOUSE_ISSUER: TEST_ISSUER,
  GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
  GATEHOUSE_JWKS_URL: inject('jwksUrl'),
  GATEHOUSE_LOG_LEVEL: 'silent',
})

const call = (path: string, bindings: Record<string, unknown>, init?: RequestInit) =>
  worker.fetch(new Request(`http://gatehouse.test${path}`, init), bindings)

describe('the Worker with GATEHOUSE_JWKS_URL', () => {
  it('runs in workerd with the test toml’s own bindings beside it', () => {
    expect(env.GATEHOUSE_ISSUER).toBe(TEST_ISSUER)
  })

  for (const alg of ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as TestAlg[]) {
    it(`fetches the key set and verifies a ${alg} token`, async () => {
      const token = await signTestToken({ scope: 'read' }, { alg })
      const res = await call('/verify', urlEnv(), { headers: { Authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ active: true, sub: 'user-1' })
    })
  }

  it('refuses a token the key set did not sign', async () => {
    const token = await signTestToken({}, { header: { kid: 'not-in-the-set' } })
    const res = await call('/verify', urlEnv(), { headers: { Authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
  })

  it('answers 500 and names nothing when a variable is misspelled', async () => {
    const res = await call('/healthz', { ...urlEnv(), GATEHOUSE_ISUER: TEST_ISSUER })
    expect(res.status).toBe(500)
    expect(await res.text()).not.toContain('GATEHOUSE')
  })
})
