/**
 * The forwarder in-process (`app.request`) against an injected upstream fetch: every refusal, the
 * deadline (fake timers), and the breaker's rule — only the upstream's failures count, nothing a
 * client sends. Raw-HTTP cases that a `Request` cannot express (TRACE, CONNECT, absolute-form,
 * truncated bodies on a socket) run against real servers in test/fuzz/raw-http.test.ts.
 */
import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createForwarder, type ForwarderOptions } from '../../../src/http/forwarder.ts'
import { errorHandler } from '../../../src/http/error-response.ts'
import { createJsonLogger } from '../../../src/http/log.ts'
import { requestIdMiddleware, requestLog } from '../../../src/http/request-log.ts'
import type { GatehouseEnv } from '../../../src/http/types.ts'

afterEach(() => {
  vi.useRealTimers()
})

interface Seen {
  method: string
  url: string
  headers: Headers
  body: string
}

/** An upstream fetch that records each request and answers with `answer` (200 "ok" by default). */
function upstream(
  answer: (req: Request) => Response | Promise<Response> = () => new Response('ok'),
) {
  const seen: Seen[] = []
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init)
    seen.push({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: req.body === null ? '' : await req.text(),
    })
    return answer(req)
  }) as typeof globalThis.fetch
  return { fetch, seen }
}

/**
 * The forwarder's deadline here: long, so a busy machine never hits it on real timers; the tests
 * about the deadline move fake timers past it.
 */
const DEADLINE_MS = 30_000

function app(options: Partial<ForwarderOptions> & { fetch: typeof fetch }) {
  const lines: string[] = []
  const logger = createJsonLogger({ write: (l) => lines.push(l) })
  const forwarder = createForwarder({
    name: 'upstream',
    label: 'the upstream service',
    timeoutMs: DEADLINE_MS,
    maxBodyBytes: 100,
    logger,
    breaker: { failureThreshold: 1, openSeconds: 30 },
    ...options,
  })
  const hono = new Hono<GatehouseEnv>()
  hono.use(requestIdMiddleware(), requestLog(logger))
  hono.onError(errorHandler(logger, 'gatehouse'))
  hono.all(
    '/x/*',
    forwarder.precheck,
    forwarder.forward((c) => ({ url: `https://up.test${c.req.path}` })),
  )
  const errors = () =>
    lines
      .map((l) => JSON.parse(l) as { msg: string; error?: string })
      .filter((r) => r.msg === 'request')
      .map((r) => r.error)
  return { hono, forwarder, lines, errors }
}

const stream = (...parts: (string | Error)[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) {
        if (part instanceof Error) return controller.error(part)
        controller.enqueue(new TextEncoder().encode(part))
      }
      controller.close()
    },
  })

describe('refusals before anything is read or forwarded', () => {
  it('answers 405 with Allow for methods it does not forward', async () => {
    const up = upstream()
    const { hono, errors } = app({ fetch: up.fetch })
    for (const method of ['PROPFIND', 'PURGE', 'FOO']) {
      const res = await hono.request('/x/a', { method })
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS')
      expect(await res.json()).toEqual({
        error: 'invalid_request',
        error_description: `${method} is not forwarded`,
      })
    }
    expect(up.seen).toHaveLength(0)
    expect(errors()).toEqual(['method_not_allowed', 'method_not_allowed', 'method_not_allowed'])
  })

  it('answers 417 for an expectation other than 100-continue, and strips 100-continue', async () => {
    const up = upstream()
    const { hono } = app({ fetch: up.fetch })
    const refused = await hono.request('/x/a', { method: 'POST', headers: { Expect: 'magic' } })
    expect(refused.status).toBe(417)
    const ok = await hono.request('/x/a', {
      method: 'POST',
      headers: { Expect: '100-Continue', 'Content-Length': '2' },
      body: 'hi',
    })
    expect(ok.status).toBe(200)
    expect(up.seen[0]?.headers.has('expect')).toBe(false)
    expect(up.seen[0]?.body).toBe('hi')
  })

  it('answers 400 for content on GET or HEAD, which could smuggle a second request', async () => {
    const up = upstream()
    const { hono, errors } = app({ fetch: up.fetch })
    for (const headers of [{ 'Content-Length': '5' }, { 'Transfer-Encoding': 'chunked' }]) {
      expect((await hono.request('/x/a', { headers })).status).toBe(400)
      expect((await hono.request('/x/a', { method: 'HEAD', headers })).status).toBe(400)
    }
    expect((await hono.request('/x/a', { headers: { 'Content-Length': '0' } })).status).toBe(200)
    expect(up.seen).toHaveLength(1)
    expect(errors().slice(0, 4)).toEqual(Array(4).fill('body_not_allowed'))
  })

  it('answers 431 when the forwarded header block would not fit the next hop', async () => {
    const up = upstream()
    const { hono } = app({ fetch: up.fetch, maxHeadBytes: 2000 })
    const res = await hono.request('/x/a', { headers: { 'X-Big': 'y'.repeat(2000) } })
    expect(res.status).toBe(431)
    expect((await hono.request(`/x/${'p'.repeat(2000)}`)).status).toBe(431)
    expect(up.seen).toHaveLength(0)
  })
})

describe('request bodies', () => {
  it('forwards the body whole, with its length, and never a framing header of its own', async () => {
    const up = upstream()
    const { hono } = app({ fetch: up.fetch })
    const res = await hono.request('/x/a', {
      method: 'PUT',
      body: stream('hello ', 'world'),
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(200)
    expect(up.seen[0]).toMatchObject({ method: 'PUT', body: 'hello world' })
    expect(up.seen[0]?.headers.has('transfer-encoding')).toBe(false)
  })

  it('answers 413 past the limit, declared or counted, without calling the upstream', async () => {
    const up = upstream()
    const { hono, errors } = app({ fetch: up.fetch })
    const declared = await hono.request('/x/a', {
      method: 'POST',
      headers: { 'Content-Length': '101' },
      body: 'x'.repeat(101),
    })
    expect(declared.status).toBe(413)
    const counted = await hono.request('/x/a', {
      method: 'POST',
      body: stream('x'.repeat(60), 'x'.repeat(60)),
      duplex: 'half',
    } as RequestInit)
    expect(counted.status).toBe(413)
    expect(up.seen).toHaveLength(0)
    expect(errors()).toEqual(['body_too_large', 'body_too_large'])
  })

  it('answers 400 when the body ends early or its stream fails', async () => {
    const up = upstream()
    const { hono, errors } = app({ fetch: up.fetch })
    const res = await hono.request('/x/a', {
      method: 'POST',
      body: stream('partial', new TypeError('terminated')),
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request' })
    expect(up.seen).toHaveLength(0)
    expect(errors()).toEqual(['body_incomplete'])
  })

  it('answers 408 when the body does not arrive before the deadline', async () => {
    vi.useFakeTimers()
    const up = upstream()
    const { hono, errors } = app({ fetch: up.fetch })
    const never = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(1)) })
    const pending = hono.request('/x/a', {
      method: 'POST',
      body: never,
      duplex: 'half',
    } as RequestInit)
    await vi.advanceTimersByTimeAsync(DEADLINE_MS)
    const res = await pending
    expect(res.status).toBe(408)
    expect(up.seen).toHaveLength(0)
    expect(errors()).toEqual(['body_timeout'])
  })
})

describe('upstream failures: 503 + Retry-After, counted by the breaker', () => {
  it('answers 503 with Retry-After at the deadline and aborts the upstream call', async () => {
    vi.useFakeTimers()
    let aborted = false
    const hanging = ((input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        const { signal } = new Request(input, init)
        signal.addEventListener('abort', () => {
          aborted = true
          reject(signal.reason)
        })
      })) as typeof fetch
    const { hono, errors, lines } = app({ fetch: hanging, breaker: { failureThreshold: 5 } })
    const pending = hono.request('/x/slow')
    await vi.advanceTimersByTimeAsync(DEADLINE_MS)
    const res = await pending
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the upstream service did not answer in time; retry later',
    })
    expect(aborted).toBe(true)
    expect(errors()).toEqual(['upstream_timeout'])
    expect(lines.some((l) => l.includes('"msg":"request failed"'))).toBe(true)
  })

  it('answers 503 when the upstream cannot be reached, then 503 from the open breaker', async () => {
    let calls = 0
    const refusing = (async () => {
      calls += 1
      throw new TypeError('connect ECONNREFUSED 10.0.0.1:443')
    }) as typeof fetch
    const { hono, errors } = app({ fetch: refusing })
    const first = await hono.request('/x/a')
    expect(first.status).toBe(503)
    expect(await first.text()).not.toContain('ECONNREFUSED')
    const open = await hono.request('/x/a')
    expect(open.status).toBe(503)
    expect(open.headers.get('retry-after')).toBe('30')
    expect(calls).toBe(1)
    expect(errors()).toEqual(['upstream_unavailable', 'upstream_circuit_open'])
  })

  it("passes the upstream's own 502-504 on and counts them", async () => {
    const up = upstream(() => new Response('down', { status: 504 }))
    const { hono, forwarder } = app({ fetch: up.fetch })
    const res = await hono.request('/x/a')
    expect(res.status).toBe(504)
    expect(await res.text()).toBe('down')
    expect(forwarder.breaker.state).toBe('open')
  })
})

describe('the breaker counts only the upstream, never the client', () => {
  it('stays closed through every client fault and 4xx answer, at a threshold of one failure', async () => {
    const up = upstream((req) =>
      new URL(req.url).pathname === '/x/teapot'
        ? new Response('no', { status: 418 })
        : new Response('ok'),
    )
    const { hono, forwarder } = app({ fetch: up.fetch, maxHeadBytes: 4000 })
    const aborted = new AbortController()
    const garbage: [string, RequestInit][] = [
      ['/x/a', { method: 'PROPFIND' }],
      ['/x/a', { method: 'POST', headers: { Expect: 'x' } }],
      ['/x/a', { headers: { 'Content-Length': '3' } }],
      ['/x/a', { headers: { 'X-Big': 'y'.repeat(5000) } }],
      ['/x/a', { method: 'POST', headers: { 'Content-Length': '1000' }, body: 'x'.repeat(1000) }],
      ['/x/a', { method: 'POST', body: stream('x'.repeat(101)), duplex: 'half' } as RequestInit],
      [
        '/x/a',
        { method: 'POST', body: stream('x', new Error('cut')), duplex: 'half' } as RequestInit,
      ],
      ['/x/teapot', {}],
      ['/x/teapot', { method: 'DELETE' }],
    ]
    for (const [path, init] of garbage) {
      const res = await hono.request(path, init)
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBeGreaterThanOrEqual(400)
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBeLessThan(500)
    }
    // A client that hangs up while the upstream is working.
    const slow = upstream(
      (req) =>
        new Promise<Response>((_resolve, reject) =>
          req.signal.addEventListener('abort', () => reject(req.signal.reason)),
        ),
    )
    const { hono: slowApp, forwarder: slowForwarder } = app({ fetch: slow.fetch })
    const gone = Promise.resolve(slowApp.request('/x/a', { signal: aborted.signal }))
    // vi.waitFor gives up after 1 s by default: a busy machine can take longer to get there.
    await vi.waitFor(() => expect(slow.seen).toHaveLength(1), { timeout: 60_000 })
    aborted.abort()
    await gone.catch(() => undefined)
    expect(slowForwarder.breaker.state).toBe('closed')

    expect(forwarder.breaker.state).toBe('closed')
    expect((await hono.request('/x/a')).status).toBe(200)
  })
})

describe('responses', () => {
  it('returns redirects without following them, and HEAD without a body', async () => {
    const up = upstream((req) =>
      req.method === 'HEAD'
        ? new Response(null, { headers: { 'Content-Length': '5' } })
        : new Response(null, { status: 302, headers: { Location: 'https://elsewhere.test/' } }),
    )
    const { hono } = app({ fetch: up.fetch })
    const redirect = await hono.request('/x/a')
    expect(redirect.status).toBe(302)
    expect(redirect.headers.get('location')).toBe('https://elsewhere.test/')
    expect(up.seen).toHaveLength(1)
    const head = await hono.request('/x/a', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe('5')
  })

  it("passes status, reason and the upstream's end-to-end headers and body on, whole or streamed", async () => {
    const big = 'b'.repeat(70_000) // above the 64 KiB read whole: passed on as a stream
    const up = upstream(
      (req) =>
        new Response(
          req.url.endsWith('/big') ? stream(big.slice(0, 30_000), big.slice(30_000)) : 'small body',
          {
            status: 201,
            statusText: 'Made',
            headers: {
              'Content-Type': 'text/plain',
              ...(req.url.endsWith('/big') ? {} : { 'Content-Length': '10' }),
              Connection: 'X-Hop',
              'X-Hop': 'dropped',
              'Keep-Alive': 'timeout=5',
              'X-End-To-End': 'kept',
            },
          },
        ),
    )
    const { hono } = app({ fetch: up.fetch })
    for (const [path, body] of [
      ['/x/small', 'small body'],
      ['/x/big', big],
    ] as const) {
      const res = await hono.request(path)
      expect(res.status).toBe(201)
      expect(res.statusText).toBe('Made')
      expect(res.headers.get('x-end-to-end')).toBe('kept')
      expect(res.headers.get('content-type')).toBe('text/plain')
      expect(res.headers.get('x-hop')).toBeNull()
      expect(res.headers.get('keep-alive')).toBeNull()
      expect(res.headers.get('connection')).toBeNull()
      expect(await res.text()).toBe(body)
    }
  })

  it('drops Proxy-Connection from answers; keeps repeated Set-Cookie and any field name', async () => {
    const up = upstream(() => {
      const headers = new Headers({ 'Content-Length': '2', 'Proxy-Connection': 'keep-alive' })
      headers.append('Set-Cookie', 'a=1')
      headers.append('Set-Cookie', 'b=2')
      return new Response('ok', { headers })
    })
    const { hono } = app({ fetch: up.fetch })
    const res = await hono.request('/x/a', {
      headers: [
        ['__proto__', 'sent'],
        ['X-Two', 'one'],
      ],
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('proxy-connection')).toBeNull()
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(await res.text()).toBe('ok')
    expect(up.seen[0]?.headers.get('__proto__')).toBe('sent')
    expect(up.seen[0]?.headers.get('x-two')).toBe('one')
  })

  it('bounds a response body that stalls after the headers by the same deadline', async () => {
    vi.useFakeTimers()
    const stalling = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const { signal } = new Request(input, init)
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"partial":'))
          signal.addEventListener('abort', () => controller.error(new Error('aborted')))
        },
      })
      return new Response(body, { status: 200 })
    }) as typeof fetch
    const { hono } = app({ fetch: stalling })
    const res = await hono.request('/x/a')
    expect(res.status).toBe(200)
    const settled = res.text().then(
      () => 'completed',
      () => 'cut off',
    )
    await vi.advanceTimersByTimeAsync(DEADLINE_MS)
    expect(await settled).toBe('cut off')
  })
})
