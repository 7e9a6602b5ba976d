/**
 * The edge's availability gauges (src/http/edge-metrics.ts) on the origin's prom-client registry:
 * the key set this origin follows (version, age of its last read of L2, whether reads fail) and the
 * revocation policy and filter age. Values are read at scrape time.
 *
 * @example registerAvailabilityMetrics(metrics.registry, { revocation: () => sync.status(), keys })
 */
import { Gauge, type Registry } from 'prom-client'
import type { KeyLifecycleStatus } from '../core/oauth/key-lifecycle.ts'
import { AVAILABILITY_GAUGES, availabilitySamples } from '../http/edge-metrics.ts'
import type { RevocationStatus } from '../revocation/index.ts'

export function registerAvailabilityMetrics(
  registry: Registry,
  sources: {
    revocation: () => RevocationStatus | undefined
    keys: (() => KeyLifecycleStatus) | undefined
  },
): void {
  const samples = () => {
    const keys = sources.keys?.()
    return availabilitySamples(
      sources.revocation(),
      keys && {
        source: keys.version === null ? null : 'l2',
        version: keys.version,
        ageSeconds: keys.readAgeSeconds,
        stale: keys.lastError !== null,
        lastError: keys.lastError,
        refreshSeconds: 0,
      },
    )
  }
  for (const [name, help, labelNames] of AVAILABILITY_GAUGES) {
    new Gauge({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect() {
        this.reset()
        for (const [n, labels, value] of samples()) if (n === name) this.set(labels, value)
      },
    })
  }
}
