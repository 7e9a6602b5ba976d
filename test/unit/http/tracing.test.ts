import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { createTracing, tracingFromEnv } from '../../../src/http/tracing.ts'
import { formatTraceparent, parseTraceparent } from '../../../src/http/tracing-context.ts'
import type { GatehouseEnv } from '../../../src/http/types.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN = '00f067aa0ba902b7'

describe('traceparent (W3C Trace Context §3.2)', () => {
  it('reads a valid header and refuses invalid ones', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
    })
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.sampled).toBe(false)
    // A later version is read by its first four fields.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-extra`)?.traceId).toBe(TRACE)
    for (const bad of [
      undefined,
      '',
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}`,
      `00-${TRACE}-${SPAN}-01`.padEnd(300, '-'),
    ])
      expect(parseTraceparent(bad)).toBeUndefined()
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true })).toBe(
      `00-${TRACE}-${SPAN}-01`,
    )
  })
})

function collectingFetch() {
  const bodies: { url: string; body: { resourceSpans: unknown[] } }[] = []
  const fetcher: typeof fetch = async (input, init) => {
    bodies.push({ url: String(input), body: JSON.parse(String(init?.body)) })
    return new Response('{}')
  }
  const spans = () =>
    bodies.flatMap(
      (b) =>
        (b.body.resourceSpans as { scopeSpans: { spans: Record<string, unknown>[] }[] }[])[0]!
          .scopeSpans[0]!.spans,
    )
  return { fetcher, bodies, spans }
}

describe('createTracing', () => {
  it('records one server span per request, child of the caller, and hands traceparent on', async () => {
    const { fetcher, bodies, spans } = collectingFetch()
    const tracing = createTracing({
      serviceName: 'gatehouse-test',
      role: 'edge',
      url: 'http://127.0.0.1:4318/v1/traces',
      fetch: fetcher,
      flushIntervalMs: 60_000,
    })
    const seen: string[] = []
    const routes = new Hono<GatehouseEnv>()
    routes.post('/token', (c) => {
      seen.push(c.get('traceparent'))
      return c.json({ ok: true })
    })
    routes.get('/boom', () => {
      throw new Error('boom')
    })
    const app = createApp({
      role: 'edge',
      logger: silentLogger,
      verifier: { verify: () => Promise.reject(new Error('unused')) },
      middleware: [tracing.middleware],
      routes: [{ path: '/', app: routes }],
    })
    await app.request('/token?code=secret-code', {
      method: 'POST',
      headers: { traceparent: `00-${TRACE}-${SPAN}-01`, authorization: 'Bearer secret-token' },
    })
    await app.request('/boom')
    await app.request('/nowhere', { headers: { traceparent: `00-${TRACE}-${SPAN}-00` } })
    await tracing.flush()

    expect(bodies[0]?.url).toBe('http://127.0.0.1:4318/v1/traces')
    const [token, boom, ...rest] = spans()
    expect(rest).toEqual([]) // the unsampled request was not recorded
    expect(token).toMatchObject({
      traceId: TRACE,
      parentSpanId: SPAN,
      name: 'POST /token',
      kind: 2,
    })
    expect(seen[0]).toBe(`00-${TRACE}-${token!.spanId as string}-01`)
    expect(boom).toMatchObject({ name: 'GET /boom', status: { code: 2 } })
    expect(boom!.parentSpanId).toBeUndefined()
    const text = JSON.stringify(bodies)
    expect(text).not.toContain('secret')
    expect(text).toContain('"service.name"')
  })

  it('hands each export to waitUntil when the runtime gives an execution context (Workers)', async () => {
    const { fetcher, spans } = collectingFetch()
    const tracing = createTracing({
      serviceName: 'edge',
      role: 'edge',
      url: 'http://127.0.0.1:4318/v1/traces',
      fetch: fetcher,
    })
    const app = new Hono<GatehouseEnv>()
    app.use(tracing.middleware)
    app.get('/x', (c) => c.text('ok'))
    const waited: Promise<unknown>[] = []
    const ctx = {
      waitUntil: (p: Promise<unknown>) => void waited.push(p),
      passThroughOnException() {},
      props: {},
    }
    await app.fetch(new Request('http://edge/x'), {}, ctx)
    expect(waited).toHaveLength(1)
    await Promise.all(waited)
    expect(spans()).toHaveLength(1)
  })

  it('never fails a request when the collector is down', async () => {
    const logs: unknown[] = []
    const tracing = createTracing({
      serviceName: 's',
      role: 'origin',
      url: 'http://127.0.0.1:4318/v1/traces',
      fetch: () => Promise.reject(new TypeError('fetch failed')),
      logger: { log: (r) => void logs.push(r) },
    })
    const app = new Hono<GatehouseEnv>()
    app.use(tracing.middleware)
    app.get('/x', (c) => c.text('ok'))
    expect((await app.request('/x')).status).toBe(200)
    await tracing.flush()
    expect(logs).toEqual([{ level: 'warn', msg: 'trace export failed', errorName: 'TypeError' }])
  })
})

describe('tracingFromEnv', () => {
  it('is off without an endpoint, on with one, and names a bad variable', () => {
    expect(tracingFromEnv({}, { role: 'edge' })).toBeUndefined()
    expect(
      tracingFromEnv(
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' },
        { role: 'edge' },
      ),
    ).toBeUndefined()
    expect(
      tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' }, { role: 'edge' }),
    ).toBeDefined()
    expect(() =>
      tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' }, { role: 'edge' }),
    ).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT: /)
  })

  it('posts to <endpoint>/v1/traces with the configured headers', async () => {
    const { fetcher, bodies } = collectingFetch()
    const urls: string[] = []
    const headers: Record<string, string>[] = []
    const tracing = tracingFromEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%20def',
      },
      {
        role: 'origin',
        fetch: (input, init) => {
          urls.push(String(input))
          headers.push(init?.headers as Record<string, string>)
          return fetcher(input, init)
        },
      },
    )!
    const app = new Hono<GatehouseEnv>()
    app.use(tracing.middleware)
    app.get('/x', (c) => c.text('ok'))
    await app.request('/x')
    await tracing.flush()
    expect(urls).toEqual(['http://127.0.0.1:4318/v1/traces'])
    expect(headers[0]).toMatchObject({ 'x-api-key': 'abc def' })
    expect(JSON.stringify(bodies)).toContain('gatehouse-origin')
  })
})
