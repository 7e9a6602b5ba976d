/**
 * `GET /metrics` on the edge: the availability state of this isolate in the Prometheus text format
 * (version 0.0.4), written by hand because prom-client needs Node. The same gauge names are on the
 * origin's /metrics (src/entry/node-availability-metrics.ts), so one dashboard reads both:
 *
 * - `gatehouse_keys_source{source="l2"|"origin"|"none"}` 1 for where verification keys come from;
 * - `gatehouse_keys_stale` 1 while reads of the key set fail (the last good copy is in use);
 * - `gatehouse_keys_age_seconds`, `gatehouse_keys_version`;
 * - `gatehouse_revocation_policy{policy="open"|"closed"}` 1 for the deployment's policy;
 * - `gatehouse_revocation_stale` 1 past the staleness limit (the policy is in force);
 * - `gatehouse_revocation_age_seconds`: age of the revocation filter.
 *
 * Per isolate: an isolate answers for itself, like `/revocation/status`.
 *
 * @example app.get('/metrics', edgeMetricsRoute(() => sync.status(), () => keys.status()))
 */
import type { Context } from 'hono'
import type { KeySourceStatus } from '../core/published-key-source.ts'
import type { RevocationStatus } from '../revocation/index.ts'

/** Every availability gauge: name, help, label names. */
export const AVAILABILITY_GAUGES = [
  [
    'gatehouse_keys_source',
    'Where verification keys come from (1 for the source in use).',
    ['source'],
  ],
  ['gatehouse_keys_stale', 'Reads of the key set are failing (the last good copy is in use).', []],
  ['gatehouse_keys_age_seconds', 'Age of the key set in use (-1: none).', []],
  ['gatehouse_keys_version', 'Version of the key set in use (-1: none).', []],
  [
    'gatehouse_revocation_policy',
    'Revocation policy when the filter is stale (1 for this deployment).',
    ['policy'],
  ],
  ['gatehouse_revocation_stale', 'The revocation filter is past the staleness limit.', []],
  ['gatehouse_revocation_age_seconds', 'Age of the revocation filter (-1: none).', []],
] as const

export type AvailabilityGauge = (typeof AVAILABILITY_GAUGES)[number][0]
type Sample = [name: AvailabilityGauge, labels: Record<string, string>, value: number]

/** The gauges' current values; shared with the origin's prom-client registration. */
export function availabilitySamples(
  revocation: RevocationStatus | undefined,
  keys: KeySourceStatus | undefined,
): Sample[] {
  const samples: Sample[] = []
  if (keys) {
    samples.push(
      ['gatehouse_keys_source', { source: keys.source ?? 'none' }, 1],
      ['gatehouse_keys_stale', {}, keys.stale ? 1 : 0],
      ['gatehouse_keys_age_seconds', {}, keys.ageSeconds ?? -1],
      ['gatehouse_keys_version', {}, keys.version ?? -1],
    )
  }
  if (revocation) {
    samples.push(
      ['gatehouse_revocation_policy', { policy: revocation.policy }, 1],
      ['gatehouse_revocation_stale', {}, revocation.stale ? 1 : 0],
      ['gatehouse_revocation_age_seconds', {}, revocation.ageSeconds ?? -1],
    )
  }
  return samples
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function render(samples: Sample[]): string {
  return AVAILABILITY_GAUGES.map(([name, help]) => {
    const series = samples
      .filter(([n]) => n === name)
      .map(([, labels, value]) => {
        const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`)
        return `${pairs.length > 0 ? `${name}{${pairs.join(',')}}` : name} ${value}\n`
      })
    return series.length === 0
      ? ''
      : `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${series.join('')}`
  }).join('')
}

export function edgeMetricsRoute(
  revocation: () => RevocationStatus | undefined,
  keys: (() => KeySourceStatus) | undefined,
) {
  return (c: Context) =>
    c.body(render(availabilitySamples(revocation(), keys?.())), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Cache-Control': 'no-store',
    })
}
