/**
 * `gatehouse_http_request_duration_seconds` as a Prometheus histogram that costs a few array writes per
 * request. prom-client's `Histogram.observe` checks, hashes and copies its label object on every call:
 * with the request counter it cost ~5 µs per request, more than a whole no-op request's JavaScript
 * (issue 15). Here each (method, route) series keeps its own bucket counts, found by two `Map`
 * lookups (route, then method: no key string built per request), and the registry reads them in prom-client's export shape when `/metrics` is scraped. Label values
 * are bounded by the caller (a method from a fixed set, a matched route pattern).
 */
import type { Registry } from 'prom-client'

interface Series {
  labels: { method: string; route: string }
  /** Observations per bucket, not cumulative; the last slot is above the highest bound (`+Inf`). */
  buckets: number[]
  sum: number
  count: number
}

/** One sample as prom-client's registry formats it (`metricName` suffixes `_bucket`, `_sum`, ...). */
interface Sample {
  labels: Record<string, string | number>
  value: number
  metricName: string
}

export interface RequestHistogram {
  /** Records one request's duration in seconds. */
  observe(method: string, route: string, seconds: number): void
}

/**
 * Registers the histogram in `registry` with upper `buckets` (seconds, ascending).
 *
 * @example
 * const durations = createRequestHistogram(registry, { name, help, buckets: [0.001, 0.01, 0.1, 1] })
 * durations.observe('GET', '/verify', 0.0004)
 */
export function createRequestHistogram(
  registry: Registry,
  options: { name: string; help: string; buckets: readonly number[] },
): RequestHistogram {
  const bounds = [...options.buckets]
  const series = new Map<string, Map<string, Series>>()
  const allSeries = function* () {
    for (const byMethod of series.values()) yield* byMethod.values()
  }
  const metric = {
    name: options.name,
    help: options.help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: Sample[] = []
      for (const s of allSeries()) {
        let cumulative = 0
        for (let i = 0; i < bounds.length; i++) {
          cumulative += s.buckets[i] ?? 0
          values.push({
            labels: { le: bounds[i] as number, ...s.labels },
            value: cumulative,
            metricName: `${options.name}_bucket`,
          })
        }
        values.push(
          {
            labels: { le: '+Inf', ...s.labels },
            value: s.count,
            metricName: `${options.name}_bucket`,
          },
          { labels: s.labels, value: s.sum, metricName: `${options.name}_sum` },
          { labels: s.labels, value: s.count, metricName: `${options.name}_count` },
        )
      }
      return {
        name: options.name,
        help: options.help,
        type: 'histogram',
        values,
        aggregator: 'sum',
      }
    },
    reset() {
      series.clear()
    },
  }
  // prom-client's types list only its own classes; its registry needs `name`, `get()` and `reset()`.
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
  return {
    observe(method, route, seconds) {
      let byMethod = series.get(route)
      if (byMethod === undefined) series.set(route, (byMethod = new Map()))
      let s = byMethod.get(method)
      if (s === undefined) {
        s = {
          labels: { method, route },
          buckets: new Array<number>(bounds.length + 1).fill(0),
          sum: 0,
          count: 0,
        }
        byMethod.set(method, s)
      }
      let i = 0
      while (i < bounds.length && seconds > (bounds[i] as number)) i++
      s.buckets[i] = (s.buckets[i] ?? 0) + 1
      s.sum += seconds
      s.count++
    },
  }
}
