import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { requestIdOf } from '../../../src/http/request-record.ts'
import type { AppDeps, GatehouseEnv } from '../../../src/http/types.ts'
import { signTestToken } from '../../fixtures/keys.ts'

const verifier: AppDeps['verifier'] = {
  verify: async () => ({
    header: { alg: 'ES256' },
    claims: { iss: 'i', sub: 's', aud: 'a', exp: 2e9 },
  }),
}

describe('createApp', () => {
  it('mounts extra route groups under our request observation (request id, logging, onError)', async () => {
    const oauth = new Hono<GatehouseEnv>()
      .get('/ping', (c) => c.json({ requestId: requestIdOf(c) }))
      .get('/fail', () => {
        throw new Error('internal detail')
      })
    const app = createApp({
      role: 'origin',
      verifier,
      logger: silentLogger,
      routes: [{ path: '/oauth', app: oauth }],
    })
    const res = await app.request('/oauth/ping', { headers: { 'X-Request-Id': 'r-1' } })
    expect(await res.json()).toEqual({ requestId: 'r-1' })
    const fail = await app.request('/oauth/fail')
    expect(fail.status).toBe(500)
    expect(await fail.text()).not.toContain('internal detail')
  })

  it('validates deps once, at construction', () => {
    const bad = [
      { role: 'middle', verifier, logger: silentLogger },
      { role: 'edge', verifier: {}, logger: silentLogger },
      { role: 'edge', logger: silentLogger, gateway: { url: 'https://u.test' } },
      { role: 'edge', verifier },
    ]
    for (const deps of bad) expect(() => createApp(deps as unknown as AppDeps)).toThrow(TypeError)
  })

  it('serves no /verify without a verifier (a minting origin without GATEHOUSE_AUDIENCE)', async () => {
    const app = createApp({ role: 'origin', logger: silentLogger })
    expect((await app.request('/verify')).status).toBe(404)
    expect((await app.request('/healthz')).status).toBe(200)
  })

  it('does not serve the gateway unless configured', async () => {
    const app = createApp({ role: 'edge', verifier, logger: silentLogger })
    const token = await signTestToken()
    const res = await app.request('/api/x', { headers: { Authorization: `Bearer ${token}` } })
    expect(res.status).toBe(404)
  })
})
