/**
 * The Grafana dashboard (k8s-fallback/grafana/gatehouse-origin.json) may only chart what the origin
 * exports: every PromQL expression is parsed, its metric names extracted and compared with the series
 * names a real `createMetrics()` registry exposes after being exercised (so histogram `_bucket`,
 * `_sum`, `_count` series exist); labels in `by (...)` must exist on the scraped series (or be
 * Prometheus' own `job`/`instance`). Every `gatehouse_*` metric appears on the dashboard at least once.
 */
import { readFileSync } from 'node:fs'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../../src/entry/node-metrics.ts'
import type { GatehouseEnv } from '../../../src/http/types.ts'

const DASHBOARD = new URL('../../../k8s-fallback/grafana/gatehouse-origin.json', import.meta.url)

interface Panel {
  id: number
  type: string
  title: string
  gridPos: { x: number; y: number; w: number; h: number }
  targets?: { expr?: string; refId: string }[]
  panels?: Panel[]
}
interface Dashboard {
  uid: string
  title: string
  panels: Panel[]
  templating: { list: { name: string; definition?: string }[] }
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
])

/** Metric names and grouping labels of one PromQL expression. */
export function promqlNames(expr: string): { metrics: string[]; groupingLabels: string[] } {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
  const groupingLabels: string[] = []
  rest = rest.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_m, _kw, labels: string) => {
      groupingLabels.push(
        ...labels
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean),
      )
      return ' '
    },
  )
  rest = rest
    .replace(/(?<![\w:])(?:\d+(?:ms|[smhdwy]))+\b/g, ' ') // durations (offset 5m, 1h30m)
    .replace(/(?<![\w:])\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, ' ') // numbers (1e-9, 0.99)
  const metrics: string[] = []
  for (const match of rest.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const after = rest.slice(match.index + match[0].length)
    if (/^\s*\(/.test(after)) continue // a function or an aggregation
    if (KEYWORDS.has(match[0].toLowerCase())) continue
    metrics.push(match[0])
  }
  return { metrics, groupingLabels }
}

/** Every series name and label name a registry exposes, from the exposition text Prometheus scrapes. */
async function exposed(): Promise<{ series: Set<string>; labels: Set<string> }> {
  const metrics = createMetrics()
  const app = new Hono<GatehouseEnv>()
  app.use(metrics.middleware)
  app.get('/token', (c) => c.text('ok'))
  await app.request('/token')
  metrics.tokenIssued('client_credentials')
  metrics.loginFailed('bad_password')
  metrics.storeError('get')
  const text = await metrics.registry.metrics()
  const series = new Set<string>()
  const labels = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([A-Za-z_:][\w:]*)(\{([^}]*)\})?\s/.exec(line)
    if (!match) throw new Error(`unparsed exposition line: ${line}`)
    series.add(match[1]!)
    for (const pair of (match[3] ?? '').matchAll(/([A-Za-z_]\w*)="/g)) labels.add(pair[1]!)
  }
  return { series, labels }
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard
const allPanels = (panels: Panel[]): Panel[] =>
  panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
const expressions = [
  ...allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')),
  ...dashboard.templating.list.flatMap((v) =>
    v.definition ? [v.definition.replace(/^label_values\(([^,]+),.*$/, '$1')] : [],
  ),
]

describe('promqlNames', () => {
  it('extracts metric names, not functions, labels, strings, durations or numbers', () => {
    expect(
      promqlNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{job=~"$job",x="by(y)"}[5m]))) / clamp_min(b_count offset 5m, 1e-9)',
      ),
    ).toEqual({ metrics: ['a_bucket', 'b_count'], groupingLabels: ['le', 'route'] })
    expect(promqlNames('up').metrics).toEqual(['up'])
  })
})

describe('Grafana dashboard', () => {
  it('is a well-formed dashboard: uid, unique panel ids, panels on the 24-column grid', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/)
    const panels = allPanels(dashboard.panels)
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
    for (const panel of panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24)
      if (panel.type !== 'row') expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
    }
  })

  it('references only metrics and labels the origin exports, and charts every gatehouse_* metric', async () => {
    const { series, labels } = await exposed()
    const used = new Set<string>()
    const unknown: string[] = []
    for (const expr of expressions) {
      const { metrics, groupingLabels } = promqlNames(expr)
      expect(metrics.length, expr).toBeGreaterThan(0)
      for (const name of metrics) {
        used.add(name)
        if (!series.has(name)) unknown.push(name)
      }
      for (const label of groupingLabels)
        if (!labels.has(label) && label !== 'job' && label !== 'instance')
          unknown.push(`label ${label}`)
    }
    expect(unknown).toEqual([])
    const families = [...series]
      .filter((s) => s.startsWith('gatehouse_'))
      .map((s) => s.replace(/_(bucket|sum|count)$/, ''))
    for (const family of new Set(families))
      expect(
        [...used].some((u) => u.startsWith(family)),
        `${family} is not on the dashboard`,
      ).toBe(true)
  })
})
