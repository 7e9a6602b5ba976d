import { afterEach, describe, expect, it, vi } from 'vitest'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { createApp } from '../../../src/http/app.ts'
import { forwardedHeaders } from '../../../src/http/gateway.ts'
import { createJsonLogger } from '../../../src/http/log.ts'

const verified: VerifiedToken = {
  header: { alg: 'ES256' },
  claims: { iss: 'i', sub: 'user-1', aud: 'a', exp: 2e9, scope: 'read', client_id: 'spa' },
}

afterEach(() => {
  vi.useRealTimers()
})

describe('forwardedHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection (RFC 9110 §7.6.1)', () => {
    const incoming = new Headers({
      Connection: 'keep-alive, X-Hop, bad header',
      'Keep-Alive': 'timeout=5',
      'X-Hop': 'one hop only',
      TE: 'trailers',
      Upgrade: 'websocket',
      'Proxy-Authorization': 'Basic abc',
      Host: 'edge.test',
      Authorization: 'Bearer t',
      'X-Kept': 'yes',
    })
    const out = forwardedHeaders(incoming, verified, false)
    expect(Object.fromEntries(out)).toEqual({
      'x-kept': 'yes',
      'x-gatehouse-subject': 'user-1',
      'x-gatehouse-scope': 'read',
      'x-gatehouse-client-id': 'spa',
    })
  })

  it('removes every X-Gatehouse-* header whatever its case before setting its own', () => {
    const incoming = new Headers({ 'X-GATEHOUSE-SUBJECT': 'admin', 'x-Gatehouse-Role': 'root' })
    const noScope: VerifiedToken = { header: verified.header, claims: { ...verified.claims } }
    delete noScope.claims.scope
    delete noScope.claims.client_id
    const out = forwardedHeaders(incoming, noScope, true)
    expect(Object.fromEntries(out)).toEqual({ 'x-gatehouse-subject': 'user-1' })
  })
})

describe('gateway timeout', () => {
  it('answers 503 + Retry-After when the upstream does not answer in time', async () => {
    vi.useFakeTimers()
    const lines: string[] = []
    let aborted = false
    const app = createApp({
      role: 'edge',
      verifier: { verify: async () => verified },
      logger: createJsonLogger({ write: (l) => lines.push(l) }),
      gateway: { url: 'https://upstream.test', timeoutMs: 1000 },
      fetch: (_input, init) =>
        new Promise<Response>((_resolve, reject) => {
          const signal = init!.signal!
          signal.addEventListener('abort', () => {
            aborted = true
            reject(signal.reason)
          })
        }),
    })
    const pending = app.request('/api/slow', { headers: { Authorization: 'Bearer abc' } })
    await vi.advanceTimersByTimeAsync(1000)
    const res = await pending
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(aborted).toBe(true)
    expect(lines.some((l) => l.includes('"error":"upstream_timeout"'))).toBe(true)
  })
})
