/**
 * The Node origin's request hooks (`nodeRequestHooks`), as `npm start` and the benchmarks' servers
 * use them: the request guard refuses before the routes, the revocation sync is kicked on every
 * request, metrics count after. Driven with the request and bindings @hono/node-server passes.
 */
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../../src/entry/node-metrics.ts'
import { nodeRequestHooks } from '../../../src/entry/node-request-hooks.ts'
import { RequestError } from '../../../src/http/request-errors.ts'

/** The bindings @hono/node-server passes: the parsed request and its response. */
const bindings = (url: string, headers: IncomingMessage['headers'] = {}) => ({
  incoming: { url, headers } as IncomingMessage,
  outgoing: {},
})

const refusalOf = (run: () => void): string | undefined => {
  try {
    run()
  } catch (err) {
    if (err instanceof RequestError) return err.code
    throw err
  }
  return undefined
}

describe('nodeRequestHooks', () => {
  it('refuses absolute-form targets and content on upgrade requests, kicks the revocation sync', () => {
    let kicks = 0
    const hooks = nodeRequestHooks(createMetrics({ defaultMetrics: false }), {
      maybeSync: () => void kicks++,
    })
    const before = hooks.before!
    const plain = new Request('http://o.test/verify')
    expect(refusalOf(() => before(plain, bindings('/verify')))).toBeUndefined()
    expect(refusalOf(() => before(plain, bindings('http://evil.test/verify')))).toBe(
      'request_target_invalid',
    )
    const upgrade = { upgrade: 'websocket', connection: 'Upgrade' }
    const withContent = new Request('http://o.test/verify', {
      method: 'POST',
      headers: { 'Content-Length': '3' },
      body: 'abc',
    })
    expect(refusalOf(() => before(withContent, bindings('/verify', upgrade)))).toBe(
      'upgrade_with_content',
    )
    expect(refusalOf(() => before(plain, bindings('/verify', upgrade)))).toBeUndefined()
    // Outside @hono/node-server (no `incoming`) there is nothing to check.
    expect(refusalOf(() => before(plain, {}))).toBeUndefined()
    expect(kicks).toBe(3)
  })

  it('guards and counts answered requests without a revocation sync too', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const hooks = nodeRequestHooks(metrics)
    // Without a revocation sync (no L2 store) the guard still runs.
    const refusal = refusalOf(() => hooks.before!(new Request('http://o.test/'), bindings('*')))
    expect(refusal).toBe('request_target_invalid')
    hooks.after!({ method: 'GET', route: '/verify', status: 200 }, 0.0004)
    const text = await metrics.registry.metrics()
    expect(text).toContain(
      'gatehouse_http_requests_total{method="GET",route="/verify",status="200"} 1',
    )
  })
})
