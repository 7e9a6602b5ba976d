/**
 * The edge → origin proxy inside workerd (the runtime it is built for). workerd cannot serve a second
 * local server here, so the origin is an injected fetch that records what it received; time for the
 * breaker is an injected clock, and the timeout is shown with a fetch that never answers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../fixtures/keys.ts'
import { createApp } from '../../src/http/app.ts'
import { buildVerifier } from '../../src/http/build-verifier.ts'
import { createJsonLogger } from '../../src/http/log.ts'
import { createOriginProxy } from '../../src/http/origin-proxy.ts'

interface Seen {
  method: string
  url: string
  headers: Record<string, string>
  body: string
  redirect: string
}

function fakeOrigin() {
  const state = { seen: [] as Seen[], down: false }
  const fetchFn: typeof fetch = async (input, init) => {
    const req = new Request(input, init)
    state.seen.push({
      method: req.method,
      url: req.url,
      headers: Object.fromEntries(req.headers),
      body: new TextDecoder().decode(await req.arrayBuffer()),
      redirect: req.redirect,
    })
    if (state.down) throw new TypeError('connection refused')
    const headers = new Headers({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
    headers.append('Set-Cookie', 'a=1; Path=/; HttpOnly')
    headers.append('Set-Cookie', 'b=2; Path=/login')
    if (new URL(req.url).pathname === '/authorize') {
      return new Response(null, {
        status: 302,
        headers: { Location: 'https://app.test/cb?code=c1' },
      })
    }
    return new Response(JSON.stringify({ ok: true }), { status: 200, headers })
  }
  return { state, fetch: fetchFn }
}

function clock() {
  let t = 1_700_000_000_000
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('origin proxy inside workerd', () => {
  it('forwards method, path, query, streamed body and headers; returns the response as is', async () => {
    const origin = fakeOrigin()
    const app = createOriginProxy({ originUrl: 'https://origin.test', fetch: origin.fetch })
    const res = await app.fetch(
      new Request('https://edge.test/token?a=1', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'cf-connecting-ip': '198.51.100.4',
          'X-Forwarded-For': '10.0.0.1',
          Connection: 'X-Hop',
          'X-Hop': 'x',
        },
        body: 'grant_type=client_credentials',
      }),
    )
    expect(res.status).toBe(200)
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Path=/login'])
    expect(await res.json()).toEqual({ ok: true })
    const seen = origin.state.seen[0]!
    expect(seen).toMatchObject({
      method: 'POST',
      url: 'https://origin.test/token?a=1',
      body: 'grant_type=client_credentials',
      redirect: 'manual',
    })
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(seen.headers['x-forwarded-for']).toBe('198.51.100.4')
    expect(seen.headers['x-forwarded-host']).toBe('edge.test')
    expect(seen.headers['x-forwarded-proto']).toBe('https')
    expect(seen.headers['x-hop']).toBeUndefined()
  })

  it("passes the origin's status, reason, end-to-end headers and body on, whole or streamed", async () => {
    const big = 'b'.repeat(70_000) // above what the forwarder reads whole: passed on as a stream
    const answer = (path: string) =>
      new Response(path === '/token' ? 'small body' : big, {
        status: 201,
        statusText: 'Made',
        headers: {
          'Content-Type': 'text/plain',
          ...(path === '/token' ? { 'Content-Length': '10' } : {}),
          Connection: 'X-Hop',
          'X-Hop': 'dropped',
          'X-End-To-End': 'kept',
        },
      })
    const app = createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) =>
        answer(new URL(new Request(input, init).url).pathname)) as typeof fetch,
    })
    for (const [path, body] of [
      ['/token', 'small body'],
      ['/authorize', big],
    ] as const) {
      const res = await app.fetch(new Request(`https://edge.test${path}`))
      expect(res.status).toBe(201)
      expect(res.statusText).toBe('Made')
      expect(res.headers.get('x-end-to-end')).toBe('kept')
      expect(res.headers.get('x-hop')).toBeNull()
      expect(await res.text()).toBe(body)
    }
  })

  it('returns redirects instead of following them', async () => {
    const origin = fakeOrigin()
    const app = createOriginProxy({ originUrl: 'https://origin.test', fetch: origin.fetch })
    const res = await app.fetch(new Request('https://edge.test/authorize?client_id=spa'))
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('https://app.test/cb?code=c1')
  })

  it('answers 503 + Retry-After at the deadline when the origin never answers', async () => {
    let aborted = false
    const hanging = ((input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        new Request(input, init).signal.addEventListener('abort', () => {
          aborted = true
          reject(new DOMException('aborted', 'AbortError'))
        })
      })) as typeof fetch
    const app = createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: hanging,
      timeoutMs: 50,
    })
    const res = await app.fetch(new Request('https://edge.test/token', { method: 'POST' }))
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(aborted).toBe(true)
  })

  it('opens after N failures: 503 + Retry-After without calling the origin; a probe closes it', async () => {
    const origin = fakeOrigin()
    const c = clock()
    const app = createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: origin.fetch,
      breaker: { failureThreshold: 2, openSeconds: 10 },
      now: c.now,
    })
    const post = () => app.fetch(new Request('https://edge.test/token', { method: 'POST' }))
    origin.state.down = true
    expect((await post()).status).toBe(503)
    expect((await post()).status).toBe(503)
    const refused = await post()
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('10')
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(origin.state.seen).toHaveLength(2)

    origin.state.down = false
    c.advance(10_000)
    expect((await post()).status).toBe(200)
    expect((await post()).status).toBe(200)
    expect(origin.state.seen).toHaveLength(4)
  })

  it('keeps verifying tokens at the edge while the origin is down', async () => {
    const origin = fakeOrigin()
    origin.state.down = true
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
    })
    const app = createApp({
      role: 'edge',
      verifier,
      logger: createJsonLogger({ level: 'silent' }),
      routes: [
        {
          path: '/',
          app: createOriginProxy({
            originUrl: 'https://origin.test',
            fetch: origin.fetch,
            breaker: { failureThreshold: 1, openSeconds: 30 },
          }),
        },
      ],
    })
    const first = await app.request('/token', { method: 'POST' })
    expect(first.status).toBe(503)
    expect(first.headers.get('retry-after')).toBe('1')
    const open = await app.request('/token', { method: 'POST' })
    expect(open.headers.get('retry-after')).toBe('30')
    const token = await signTestToken()
    const res = await app.request('/verify', { headers: { Authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ active: true })
  })

  it('keeps the breaker closed whatever the client sends: only failures of the origin count', async () => {
    const origin = fakeOrigin()
    const proxy = createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: origin.fetch,
      breaker: { failureThreshold: 1, openSeconds: 30 },
    })
    const cut = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('grant_type='))
        controller.error(new TypeError('the client went away'))
      },
    })
    const garbage = [
      new Request('https://edge.test/token', { method: 'PROPFIND' }),
      new Request('https://edge.test/token', { headers: { 'X-Big': 'y'.repeat(20_000) } }),
      new Request('https://edge.test/token', { method: 'POST', body: 'x'.repeat(70_000) }),
      new Request('https://edge.test/token', {
        method: 'POST',
        body: cut,
        duplex: 'half',
      } as RequestInit),
      new Request('https://edge.test/token', { method: 'POST', headers: { Expect: 'x' } }),
    ]
    for (const request of garbage) {
      const res = await proxy.fetch(request)
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
    }
    expect(origin.state.seen).toHaveLength(0)
    expect(proxy.forwarder.breaker.state).toBe('closed')
    const ok = await proxy.fetch(
      new Request('https://edge.test/token', { method: 'POST', body: 'a=b' }),
    )
    expect(ok.status).toBe(200)
  })

  it('answers 408 with Connection: close when the request body does not arrive before the deadline', async () => {
    const origin = fakeOrigin()
    const proxy = createOriginProxy({
      originUrl: 'https://origin.test',
      fetch: origin.fetch,
      timeoutMs: 50,
      breaker: { failureThreshold: 1 },
    })
    const stalled = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode('grant_type=')),
    })
    const res = await proxy.fetch(
      new Request('https://edge.test/token', {
        method: 'POST',
        body: stalled,
        duplex: 'half',
      } as RequestInit),
    )
    expect(res.status).toBe(408)
    expect(await res.json()).toMatchObject({ error: 'invalid_request' })
    expect(origin.state.seen).toHaveLength(0)
    expect(proxy.forwarder.breaker.state).toBe('closed')
  })
})
