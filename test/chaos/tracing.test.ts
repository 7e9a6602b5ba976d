/**
 * Tracing across processes: the edge (the Worker in workerd, exporting in `waitUntil`) and the origin
 * process both export OTLP/HTTP JSON to a local collector stub (OTEL_EXPORTER_OTLP_ENDPOINT). A /token
 * request sent to the edge with a client's `traceparent` yields an edge SERVER span (child of the
 * client's span) and an origin SERVER span (child of the edge's span), all in one trace; attributes
 * carry the route pattern and status, and no export contains the token or the client secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SERVICE_SECRET } from '../unit/oauth/support.ts'
import { clientCredentials, verifyToken } from '../support/oauth-http.ts'
import { startOtlpCollector, type OtlpCollector } from '../support/otlp-collector.ts'
import { until } from '../support/poll.ts'
import { startStack, type Stack } from '../support/stack.ts'

/** Deadline for spans to reach the collector: a timeout, generous for a busy machine. */
const EXPORT_TIMEOUT_MS = 30_000

let collector: OtlpCollector
let stack: Stack

beforeAll(async () => {
  collector = await startOtlpCollector()
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }
  // Spans are the subject here, not deadlines: the edge's origin and JWKS deadlines are long, so a
  // busy machine cannot turn the traced request into a 503.
  const patient = { GATEHOUSE_ORIGIN_TIMEOUT_MS: '60000', GATEHOUSE_JWKS_TIMEOUT_MS: '60000' }
  stack = await startStack({ edgeEnv: { ...otel, ...patient }, originEnv: otel })
})

afterAll(async () => {
  await stack?.close()
  await collector?.close()
})

const attribute = (
  span: { attributes: { key: string; value: Record<string, unknown> }[] },
  key: string,
) => {
  const value = span.attributes.find((a) => a.key === key)?.value
  return value?.stringValue ?? value?.intValue
}

describe('tracing: edge → origin', () => {
  it('continues the caller’s trace at the edge and the edge’s span at the origin', async () => {
    const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const clientSpanId = '00f067aa0ba902b7'
    const response = await fetch(`${stack.edge.url}/token`, {
      method: 'POST',
      headers: {
        traceparent: `00-${clientTraceId}-${clientSpanId}-01`,
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`service:${SERVICE_SECRET}`)}`,
      },
      body: 'grant_type=client_credentials&scope=read',
    })
    expect(response.status).toBe(200)
    const { access_token: token } = (await response.json()) as { access_token: string }

    const inTrace = () => collector.spans.filter((s) => s.traceId === clientTraceId)
    await until(() => inTrace().length >= 2, EXPORT_TIMEOUT_MS, 'edge and origin spans exported')
    const edge = inTrace().find((s) => s.service === 'gatehouse-edge')!
    const origin = inTrace().find((s) => s.service === 'gatehouse-origin')!
    expect(edge).toMatchObject({ name: 'POST /token', kind: 2, parentSpanId: clientSpanId })
    expect(origin).toMatchObject({ name: 'POST /token', kind: 2, parentSpanId: edge.spanId })
    expect(origin.spanId).not.toBe(edge.spanId)
    expect(attribute(edge, 'http.route')).toBe('/token')
    expect(attribute(origin, 'http.response.status_code')).toBe('200')
    expect(attribute(edge, 'gatehouse.role')).toBe('edge')
    expect(BigInt(edge.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(edge.startTimeUnixNano))

    // A request with no traceparent starts a new trace at the edge (no parent), e.g. /verify.
    expect((await verifyToken(stack.edge.url, token)).outcome.status).toBe(200)
    await until(
      () => collector.spans.some((s) => s.service === 'gatehouse-edge' && s.name === 'GET /verify'),
      EXPORT_TIMEOUT_MS,
      'verify span exported',
    )
    const verify = collector.spans.find((s) => s.name === 'GET /verify')!
    expect(verify.parentSpanId).toBeUndefined()
    expect(verify.traceId).toMatch(/^[0-9a-f]{32}$/)

    const exported = collector.bodies.join('\n')
    expect(exported).not.toContain(token.split('.')[2])
    expect(exported).not.toContain(SERVICE_SECRET)
    expect(exported).not.toContain('authorization')
  })

  it('an invalid traceparent starts a new trace instead of being trusted', async () => {
    const before = collector.spans.length
    const bad = '00-00000000000000000000000000000000-00f067aa0ba902b7-01'
    const { outcome } = await clientCredentials(stack.edge.url)
    expect(outcome.status).toBe(200)
    await fetch(`${stack.edge.url}/healthz`, { headers: { traceparent: bad } })
    await until(
      () => collector.spans.slice(before).some((s) => s.name === 'GET /healthz'),
      EXPORT_TIMEOUT_MS,
      'healthz span exported',
    )
    const health = collector.spans.slice(before).find((s) => s.name === 'GET /healthz')!
    expect(health.traceId).not.toBe('0'.repeat(32))
    expect(health.parentSpanId).toBeUndefined()
  })
})
