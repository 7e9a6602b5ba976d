/**
 * The request-duration histogram keeps its own bucket counts: its /metrics text must be exactly what
 * prom-client's own `Histogram` prints for the same observations (bucket bounds inclusive, cumulative
 * counts, `+Inf`, `_sum`, `_count`), so dashboards and alerts read it the same.
 */
import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createRequestHistogram } from '../../../src/entry/node-request-histogram.ts'

const BUCKETS = [0.001, 0.005, 0.01, 0.1, 1]
const NAME = 'gatehouse_http_request_duration_seconds'
const HELP = 'Time from request to response headers, by method and matched route.'

describe('createRequestHistogram', () => {
  it('prints what prom-client prints for the same observations', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const durations = createRequestHistogram(ours, { name: NAME, help: HELP, buckets: BUCKETS })
    const reference = new Histogram({
      name: NAME,
      help: HELP,
      labelNames: ['method', 'route'],
      buckets: BUCKETS,
      registers: [theirs],
    })
    // Values on a bound (inclusive), between bounds, above the last, and a second series.
    const observations: [string, string, number][] = [
      ['GET', '/verify', 0.001],
      ['GET', '/verify', 0.0005],
      ['GET', '/verify', 0.007],
      ['GET', '/verify', 2.5],
      ['POST', '/token', 0.1],
      ['POST', '/token', 0.05],
    ]
    for (const [method, route, seconds] of observations) {
      durations.observe(method, route, seconds)
      reference.observe({ method, route }, seconds)
    }
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(await ours.metrics()).toContain(
      `${NAME}_bucket{le="0.001",method="GET",route="/verify"} 2`,
    )
  })

  it('is empty again after a registry reset', async () => {
    const registry = new Registry()
    const durations = createRequestHistogram(registry, { name: NAME, help: HELP, buckets: BUCKETS })
    durations.observe('GET', '/verify', 0.002)
    registry.resetMetrics()
    expect(await registry.metrics()).not.toContain('_count')
  })
})
