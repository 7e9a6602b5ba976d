/**
 * Metrics: parsed from the real `/metrics` text (not from prom-client objects), with `record` as
 * createApp's `requestHooks.after`, so the route label is what Hono really matched.
 */
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/http/app.ts'
import { createJsonLogger } from '../../../src/http/log.ts'
import { createMetrics, type Metrics } from '../../../src/entry/node-metrics.ts'
import type { GatehouseEnv } from '../../../src/http/types.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { StoreError } from '../../../src/store/errors.ts'
import type { Store } from '../../../src/store/types.ts'

/** The app as the origin wires it: metrics recorded by the request hooks of createApp. */
function instrumented(metrics: Metrics) {
  const users = new Hono<GatehouseEnv>()
  users.get('/users/:id', (c) => c.json({ id: c.req.param('id') }))
  users.post('/boom', () => {
    throw new Error('secret detail')
  })
  return createApp({
    role: 'origin',
    verifier: {
      verify: async () => {
        throw new Error('unused')
      },
    },
    logger: createJsonLogger({ level: 'silent' }),
    requestHooks: { after: metrics.record },
    routes: [
      { path: '/', app: users },
      { path: '/', app: metrics.routes },
    ],
  })
}

async function scrape(app: Hono<GatehouseEnv>): Promise<string> {
  const res = await app.request('/metrics')
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  return res.text()
}

/** The value of one sample line, e.g. `gatehouse_http_requests_total{method="GET",...}`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const have = match[2]!.split(/,(?=[a-z_]+=")/).sort()
    if (have.join(',') === wanted.join(',')) return Number(match[3])
  }
  return undefined
}

describe('createMetrics', () => {
  it('counts requests by method, matched route pattern and status — never the raw path', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const app = instrumented(metrics)
    await app.request('/users/1')
    await app.request('/users/2')
    await app.request('/users/3?x=1')
    await app.request('/no/such/path-1')
    await app.request('/no/such/path-2')
    expect((await app.request('/boom', { method: 'POST' })).status).toBe(500)
    await app.request('/users/4', { method: 'PROPFIND' })
    const text = await scrape(app)

    const count = (labels: Record<string, string>) =>
      sample(text, 'gatehouse_http_requests_total', labels)
    expect(count({ method: 'GET', route: '/users/:id', status: '200' })).toBe(3)
    expect(count({ method: 'GET', route: 'unmatched', status: '404' })).toBe(2)
    expect(count({ method: 'POST', route: '/boom', status: '500' })).toBe(1)
    expect(count({ method: 'OTHER', route: 'unmatched', status: '404' })).toBe(1)
    expect(text).not.toContain('/users/1')
    expect(text).not.toContain('path-1')
    expect(text).not.toContain('secret detail')
    expect(
      sample(text, 'gatehouse_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/users/:id',
      }),
    ).toBe(3)
    expect(
      sample(text, 'gatehouse_http_request_duration_seconds_bucket', {
        method: 'GET',
        route: '/users/:id',
        le: '+Inf',
      }),
    ).toBe(3)
  })

  it('counts tokens per grant, login failures per reason and store errors per operation', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.tokenIssued('client_credentials')
    metrics.tokenIssued('client_credentials')
    metrics.tokenIssued('refresh_token')
    metrics.loginFailed('bad_password')
    metrics.storeError('get')
    const text = await scrape(instrumented(metrics))
    expect(
      sample(text, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }),
    ).toBe(2)
    expect(sample(text, 'gatehouse_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1)
    expect(sample(text, 'gatehouse_login_failures_total', { reason: 'bad_password' })).toBe(1)
    expect(sample(text, 'gatehouse_store_errors_total', { operation: 'get' })).toBe(1)
    // Counted between scrapes and handed over at each: totals keep growing, nothing counted twice.
    metrics.tokenIssued('client_credentials')
    const again = await scrape(instrumented(metrics))
    expect(
      sample(again, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }),
    ).toBe(3)
    expect(sample(again, 'gatehouse_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1)
  })

  it('folds label values that are not plain words, or too many distinct ones, into "other"', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.loginFailed('alice@example.test')
    metrics.tokenIssued('urn:ietf:params:oauth:grant-type:device_code')
    for (let i = 0; i < 40; i++) metrics.loginFailed(`reason_${i}`)
    const text = await scrape(instrumented(metrics))
    expect(text).not.toContain('alice')
    expect(sample(text, 'gatehouse_tokens_issued_total', { grant_type: 'other' })).toBe(1)
    expect(sample(text, 'gatehouse_login_failures_total', { reason: 'reason_31' })).toBe(1)
    expect(sample(text, 'gatehouse_login_failures_total', { reason: 'reason_32' })).toBeUndefined()
    expect(sample(text, 'gatehouse_login_failures_total', { reason: 'other' })).toBe(9)
  })

  it('counts failed store calls by operation through instrumentStore, passing results through', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const memory = createMemoryStore()
    const failing: Store = {
      ...memory,
      get: async (): Promise<string | null> => {
        throw new StoreError('unavailable', 'get', 'down')
      },
    }
    const store = metrics.instrumentStore(failing)
    await store.set('k', 'v')
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreError)
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreError)
    expect(await store.ping()).toBe(true)
    const text = await scrape(instrumented(metrics))
    expect(sample(text, 'gatehouse_store_errors_total', { operation: 'get' })).toBe(2)
    expect(sample(text, 'gatehouse_store_errors_total', { operation: 'set' })).toBeUndefined()
  })

  it('uses its own registry and includes the default process metrics', async () => {
    const a = createMetrics()
    const b = createMetrics()
    a.tokenIssued('client_credentials')
    const textA = await a.registry.metrics()
    const textB = await b.registry.metrics()
    expect(textA).toMatch(/^process_cpu_user_seconds_total \d/m)
    expect(textA).toMatch(/^nodejs_heap_size_used_bytes \d/m)
    expect(
      sample(textA, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }),
    ).toBe(1)
    expect(
      sample(textB, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }),
    ).toBeUndefined()
  })
})
