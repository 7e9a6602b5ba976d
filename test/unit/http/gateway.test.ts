/**
 * What the gateway adds to the forwarder: the caller's identity in `X-Gatehouse-*` (spoofs removed,
 * `Authorization` removed unless configured), `X-Forwarded-For` from the runtime's client address,
 * the `/api` prefix mapping, and refusals that come before authentication.
 */
import { describe, expect, it } from 'vitest'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { createApp } from '../../../src/http/app.ts'
import { createJsonLogger } from '../../../src/http/log.ts'
import type { GatewayOptions } from '../../../src/http/types.ts'

const verified: VerifiedToken = {
  header: { alg: 'ES256' },
  claims: { iss: 'i', sub: 'user-1', aud: 'a', exp: 2e9, scope: 'read', client_id: 'spa' },
}
const auth = { Authorization: 'Bearer abc' }

function gateway(options: Partial<GatewayOptions> = {}, clientIp?: string) {
  const seen: Request[] = []
  const app = createApp({
    role: 'edge',
    verifier: { verify: async () => verified },
    logger: createJsonLogger({ level: 'silent' }),
    gateway: { url: 'https://upstream.test/v1', ...options },
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Request(input, init))
      return new Response('ok')
    }) as typeof fetch,
    ...(clientIp === undefined ? {} : { clientIp: () => clientIp }),
  })
  return { app, seen }
}

describe('gateway', () => {
  it('sets the identity headers, removing spoofed ones and Authorization', async () => {
    const { app, seen } = gateway({}, '198.51.100.4')
    const res = await app.request('https://edge.test/api/orders?page=2', {
      headers: {
        ...auth,
        'X-GATEHOUSE-SUBJECT': 'admin',
        'x-Gatehouse-Role': 'root',
        'X-Forwarded-For': '10.0.0.1',
        'X-Kept': 'yes',
      },
    })
    expect(res.status).toBe(200)
    const sent = seen[0]!
    expect(sent.url).toBe('https://upstream.test/v1/orders?page=2')
    expect(Object.fromEntries(sent.headers)).toEqual({
      'x-kept': 'yes',
      'x-gatehouse-subject': 'user-1',
      'x-gatehouse-scope': 'read',
      'x-gatehouse-client-id': 'spa',
      'x-forwarded-for': '198.51.100.4',
      'x-forwarded-host': 'edge.test',
      'x-forwarded-proto': 'https',
      'x-request-id': res.headers.get('x-request-id'),
      via: '1.1 gatehouse',
    })
  })

  it('keeps Authorization when configured to forward it', async () => {
    const { app, seen } = gateway({ forwardAuthorization: true })
    await app.request('/api/x', { headers: auth })
    expect(seen[0]?.headers.get('authorization')).toBe('Bearer abc')
  })

  it('maps /api and /api?q to the upstream root', async () => {
    const { app, seen } = gateway()
    await app.request('/api', { headers: auth })
    await app.request('/api?q=1', { headers: auth })
    expect(seen.map((r) => r.url)).toEqual([
      'https://upstream.test/v1/',
      'https://upstream.test/v1/?q=1',
    ])
  })

  it('refuses a percent-encoded /api prefix rather than mis-mapping it', async () => {
    const { app, seen } = gateway()
    const res = await app.request('/%61pi/orders', { headers: auth })
    expect(res.status).toBe(400)
    expect(seen).toHaveLength(0)
  })

  it('answers 405 before authentication: no token is needed to learn the method is refused', async () => {
    const { app, seen } = gateway()
    const res = await app.request('/api/orders', { method: 'PROPFIND' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toContain('GET')
    expect(seen).toHaveLength(0)
  })

  it('refuses a body over GATEHOUSE_UPSTREAM_MAX_BODY_BYTES with 413', async () => {
    const { app, seen } = gateway({ maxBodyBytes: 4 })
    const res = await app.request('/api/x', { method: 'POST', headers: auth, body: '12345' })
    expect(res.status).toBe(413)
    expect(seen).toHaveLength(0)
  })
})
