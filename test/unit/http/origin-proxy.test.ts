/**
 * Edge → origin forwarding on Node: a real origin server on loopback (forwarding fidelity, redirects,
 * cookies, outages), an injected fetch where only fake timers can show a timeout, and the proxy mounted
 * in `createApp` next to the verification routes, which keep working while the origin is down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../../fixtures/keys.ts'
import { createApp } from '../../../src/http/app.ts'
import { buildVerifier } from '../../../src/http/build-verifier.ts'
import { createJsonLogger } from '../../../src/http/log.ts'
import { createOriginProxy, type OriginProxyOptions } from '../../../src/http/origin-proxy.ts'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** The origin: records requests; `mode` makes it healthy, answer 502, or hang up without answering. */
const origin = {
  server: undefined as Server | undefined,
  url: '',
  seen: [] as Seen[],
  mode: 'up' as 'up' | 'bad-gateway' | 'reset',
}

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  origin.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
  if (origin.mode === 'reset') {
    req.socket.destroy()
    return
  }
  if (origin.mode === 'bad-gateway') {
    res.writeHead(502, { 'Content-Type': 'text/plain' })
    res.end('bad gateway')
    return
  }
  const path = (req.url ?? '').split('?')[0]
  if (path === '/authorize') {
    res.writeHead(302, { Location: 'https://app.test/cb?code=abc&state=xyz' })
    res.end()
    return
  }
  if (path === '/.well-known/jwks.json') {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'public, max-age=300',
    })
    res.end(JSON.stringify({ keys: [{ kid: 'k1' }] }))
    return
  }
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'Set-Cookie': ['a=1; Path=/; HttpOnly', 'b=2; Path=/login; Secure'],
    'X-Origin': 'yes',
    Connection: 'keep-alive, X-Origin-Hop',
    'X-Origin-Hop': 'drop me',
  })
  res.end(JSON.stringify({ ok: true, path }))
}

beforeAll(async () => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin.server = server
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => {
    origin.server?.close(() => resolve())
    origin.server?.closeAllConnections()
  })
})
beforeEach(() => {
  origin.seen = []
  origin.mode = 'up'
})
afterEach(() => {
  vi.useRealTimers()
})

function clock() {
  let t = 1_700_000_000_000
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

const proxyApp = (options: Partial<OriginProxyOptions> = {}) =>
  createOriginProxy({ originUrl: origin.url, ...options })

describe('forwarding fidelity', () => {
  it('forwards method, path, query, body and end-to-end headers; sets X-Forwarded-*', async () => {
    const app = proxyApp()
    const res = await app.request('https://edge.test/token?x=1&y=%20', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: 'Basic c2VydmljZTpzZWNyZXQ=',
        'cf-connecting-ip': '203.0.113.7',
        'X-Forwarded-For': '10.0.0.1',
        'X-Forwarded-Host': 'evil.test',
        Forwarded: 'for=10.0.0.1',
        'X-Real-IP': '10.0.0.1',
        Connection: 'keep-alive, X-Client-Hop',
        'X-Client-Hop': 'drop me',
        TE: 'trailers',
        'Proxy-Authorization': 'Basic abc',
        'X-Custom': 'kept',
      },
      body: 'grant_type=client_credentials&scope=read',
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/token' })
    expect(origin.seen).toHaveLength(1)
    const seen = origin.seen[0]!
    expect(seen.method).toBe('POST')
    expect(seen.url).toBe('/token?x=1&y=%20')
    expect(seen.body).toBe('grant_type=client_credentials&scope=read')
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(seen.headers.authorization).toBe('Basic c2VydmljZTpzZWNyZXQ=')
    expect(seen.headers['x-custom']).toBe('kept')
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7')
    expect(seen.headers['x-forwarded-host']).toBe('edge.test')
    expect(seen.headers['x-forwarded-proto']).toBe('https')
    expect(seen.headers.host).toBe(new URL(origin.url).host)
    for (const name of ['forwarded', 'x-real-ip', 'x-client-hop', 'te', 'proxy-authorization'])
      expect(seen.headers[name]).toBeUndefined()
  })

  it("returns the origin's response as is, both cookies included, hop-by-hop headers removed", async () => {
    const res = await proxyApp().request('/login/password', { method: 'POST', body: 'u=a' })
    expect(res.status).toBe(200)
    expect(res.headers.getSetCookie()).toEqual([
      'a=1; Path=/; HttpOnly',
      'b=2; Path=/login; Secure',
    ])
    expect(res.headers.get('x-origin')).toBe('yes')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('x-origin-hop')).toBeNull()
    expect(res.headers.get('connection')).toBeNull()
    expect(origin.seen[0]?.url).toBe('/login/password')
  })

  it('returns redirects without following them', async () => {
    const res = await proxyApp().request('/authorize?client_id=spa&state=xyz')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('https://app.test/cb?code=abc&state=xyz')
    expect(origin.seen.map((s) => s.url)).toEqual(['/authorize?client_id=spa&state=xyz'])
  })

  it("appends paths to the origin URL's path and honours the issuer base path", async () => {
    const app = createOriginProxy({ originUrl: `${origin.url}/internal/`, basePath: '/tenant-a' })
    expect((await app.request('/tenant-a/revoke', { method: 'POST', body: 't=x' })).status).toBe(
      200,
    )
    expect(origin.seen[0]?.url).toBe('/internal/tenant-a/revoke')
    // Only the minting routes: anything else is not this sub-app's business.
    expect((await app.request('/token', { method: 'POST' })).status).toBe(404)
    expect((await app.request('/tenant-a/verify')).status).toBe(404)
    expect(origin.seen).toHaveLength(1)
  })
})

describe('request body cap', () => {
  it('refuses a declared oversize body with 413 without calling the origin', async () => {
    const res = await proxyApp({ maxBodyBytes: 10 }).request('/token', {
      method: 'POST',
      headers: { 'Content-Length': '11' },
      body: 'x'.repeat(11),
    })
    expect(res.status).toBe(413)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(origin.seen).toHaveLength(0)
  })

  it('counts a streamed body to the cap, answers 413 and does not count it against the origin', async () => {
    const app = proxyApp({ maxBodyBytes: 1000, breaker: { failureThreshold: 1 } })
    const chunk = new TextEncoder().encode('x'.repeat(600))
    const body = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(chunk)
          controller.enqueue(chunk)
          controller.close()
        },
      })
    const init = { method: 'POST', body: body(), duplex: 'half' } as RequestInit
    const res = await app.request('/token', init)
    expect(res.status).toBe(413)
    // The breaker (threshold 1) is still closed: the next request reaches the origin.
    const ok = await app.request('/token', { method: 'POST', body: 'small' })
    expect(ok.status).toBe(200)
    expect(origin.seen.at(-1)?.body).toBe('small')
  })
})

describe('timeout', () => {
  it('answers 503 + Retry-After at the deadline, aborts the origin call and counts a failure', async () => {
    vi.useFakeTimers()
    let aborted = 0
    let calls = 0
    const hanging = ((input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        calls += 1
        new Request(input, init).signal.addEventListener('abort', () => {
          aborted += 1
          reject(new DOMException('aborted', 'AbortError'))
        })
      })) as typeof fetch
    const app = createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: hanging,
      timeoutMs: 2000,
      breaker: { failureThreshold: 2, openSeconds: 10 },
    })
    for (let i = 0; i < 2; i++) {
      const pending = app.request('/token', { method: 'POST', body: 'a=b' })
      await vi.advanceTimersByTimeAsync(2000)
      const res = await pending
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
    }
    expect(aborted).toBe(2)
    const open = await app.request('/token', { method: 'POST' })
    expect(open.status).toBe(503)
    expect(calls).toBe(2)
  })

  it('answers 503, never 500, when fetch throws synchronously', async () => {
    const throwing: typeof fetch = () => {
      throw new TypeError('boom')
    }
    const res = await createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: throwing,
    }).request('/token', { method: 'POST' })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
  })
})

describe('circuit breaker against a real origin', () => {
  it('opens after N failures, answers 503 + Retry-After without calling the origin, then a probe closes it', async () => {
    const c = clock()
    const lines: string[] = []
    const app = proxyApp({
      breaker: { failureThreshold: 3, openSeconds: 20 },
      now: c.now,
      logger: createJsonLogger({ write: (l) => lines.push(l) }),
    })
    origin.mode = 'reset'
    expect((await app.request('/token', { method: 'POST' })).status).toBe(503)
    origin.mode = 'bad-gateway'
    expect((await app.request('/token', { method: 'POST' })).status).toBe(502)
    expect((await app.request('/introspect', { method: 'POST' })).status).toBe(502)
    expect(origin.seen).toHaveLength(3)

    origin.mode = 'up'
    const refused = await app.request('/token', { method: 'POST', body: 'a=b' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('20')
    expect(refused.headers.get('cache-control')).toBe('no-store')
    expect(await refused.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.any(String),
    })
    c.advance(15_000)
    expect((await app.request('/logout')).headers.get('retry-after')).toBe('5')
    expect(origin.seen).toHaveLength(3)

    c.advance(5000)
    const probe = await app.request('/token', { method: 'POST', body: 'a=b' })
    expect(probe.status).toBe(200)
    expect(origin.seen).toHaveLength(4)
    expect((await app.request('/token', { method: 'POST' })).status).toBe(200)
    expect(origin.seen).toHaveLength(5)
    // Logged by error code; no URL, no body.
    expect(lines.some((l) => l.includes('"code":"origin_unavailable"'))).toBe(true)
    expect(lines.every((l) => !l.includes('a=b'))).toBe(true)
  })

  it('counts an unreachable origin (connection refused) as a failure', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const app = createOriginProxy({
      originUrl: `http://127.0.0.1:${port}`,
      breaker: { failureThreshold: 1, openSeconds: 30 },
    })
    const refused = await app.request('/token', { method: 'POST' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    const open = await app.request('/token', { method: 'POST' })
    expect(open.status).toBe(503)
    expect(open.headers.get('retry-after')).toBe('30')
  })

  it('does not forward discovery or the JWKS: the edge serves them from L2 (edge-keys.ts)', async () => {
    const app = proxyApp({ breaker: { failureThreshold: 1, openSeconds: 30 } })
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration'])
      expect((await app.request(path)).status).toBe(404)
    expect(origin.seen).toHaveLength(0)
  })
})

describe('mounted at the edge with createApp', () => {
  it('keeps verifying tokens while the origin is down', async () => {
    const c = clock()
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
    })
    const proxy = proxyApp({ breaker: { failureThreshold: 1, openSeconds: 60 }, now: c.now })
    const app = createApp({
      role: 'edge',
      verifier,
      logger: createJsonLogger({ level: 'silent' }),
      routes: [{ path: '/', app: proxy }],
    })
    origin.mode = 'reset'
    expect((await app.request('/token', { method: 'POST' })).status).toBe(503)
    const refused = await app.request('/token', { method: 'POST' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('60')

    const token = await signTestToken({ scope: 'read' })
    const verified = await app.request('/verify', { headers: { Authorization: `Bearer ${token}` } })
    expect(verified.status).toBe(200)
    expect(await verified.json()).toMatchObject({ active: true, sub: 'user-1' })
    expect((await app.request('/healthz')).status).toBe(200)
    expect(origin.seen).toHaveLength(1)
  })
})
