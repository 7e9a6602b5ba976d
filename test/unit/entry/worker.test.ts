/**
 * The Worker entry's lifecycle, run in Node for control over globals: lazy build on the first request,
 * reuse while the config is unchanged (even across env objects), rebuild when it changes, and a generic
 * 500 with the variable named in the log on a bad config.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../../fixtures/keys.ts'

async function freshWorker() {
  vi.resetModules()
  return (await import('../../../src/entry/worker.ts')).default
}

const remoteEnv = () => ({
  GATEHOUSE_ISSUER: TEST_ISSUER,
  GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
  GATEHOUSE_JWKS_URL: 'https://issuer.test/jwks',
  GATEHOUSE_LOG_LEVEL: 'silent',
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('worker entry', () => {
  it('builds the key set once and reuses it while the config is unchanged', async () => {
    const jwksFetch = vi.fn(async () => Response.json(publicJwks()))
    vi.stubGlobal('fetch', jwksFetch)
    const worker = await freshWorker()
    const token = await signTestToken()
    const auth = { headers: { Authorization: `Bearer ${token}` } }
    expect(jwksFetch).toHaveBeenCalledTimes(0) // lazy: nothing before the first request

    for (let i = 0; i < 3; i++) {
      const res = await worker.fetch(new Request('http://w/verify', auth), remoteEnv())
      expect(res.status).toBe(200)
    }
    expect(jwksFetch).toHaveBeenCalledTimes(1)

    // A changed variable rebuilds: a new key set fetches again; the old L1 cannot answer.
    const changed = { ...remoteEnv(), GATEHOUSE_AUDIENCE: 'https://other.test' }
    const res = await worker.fetch(new Request('http://w/verify', auth), changed)
    expect(res.status).toBe(401)
    expect(jwksFetch).toHaveBeenCalledTimes(2)
  })

  it('answers a bad config with a generic 500 and logs the variable name, not its value', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const worker = await freshWorker()
    // Seven digits: no run of digits in the line's ISO timestamp is that long (a `.999Z` once
    // matched a three-digit value here).
    const env = { ...remoteEnv(), GATEHOUSE_CLOCK_LEEWAY_SECONDS: '1234567' }
    const res = await worker.fetch(new Request('http://w/healthz'), env)
    expect(res.status).toBe(500)
    const body = await res.text()
    expect(body).not.toContain('GATEHOUSE')
    expect(JSON.parse(body)).toEqual({
      error: 'server_error',
      error_description: 'the service is misconfigured',
    })
    const lines = log.mock.calls.map((c) => String(c[0]))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('GATEHOUSE_CLOCK_LEEWAY_SECONDS')
    expect(lines[0]).not.toContain('1234567')

    // Logged once per bad config, not once per request; fixing the config recovers.
    await worker.fetch(new Request('http://w/healthz'), env)
    expect(log).toHaveBeenCalledTimes(1)
    const fixed = { ...remoteEnv() }
    expect((await worker.fetch(new Request('http://w/healthz'), fixed)).status).toBe(200)
  })
})
