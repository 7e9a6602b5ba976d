/**
 * `npm run bench:policy`: what Cedar decisions cost at the edge (docs/policy.md, "Cost at the edge").
 *
 * 1. Bundle: the Worker with and without the Cedar engine, raw and gzip (wrangler's upload).
 * 2. Isolate start: spawn-to-first-answer of `workerd serve` for a Worker without and with the
 *    engine's .wasm in its bundle (unused), fresh process per trial.
 * 3. First use, fresh process per trial: instantiating the engine (initSync), compiling the
 *    100-policy set, the first decision (its action slice is pre-parsed then), a warm decision.
 * 4. Decisions inside workerd, 100 policies: n decisions per request timed from outside (the clock
 *    stands still inside workerd), minus the empty request (bench/lib/workerd.ts's method).
 * 5. The same decision rows on Node, in process (bench/lib/measure.ts).
 *
 * Results: bench/results/policy.json (git-ignored: a run never dirties tracked files).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { describeMachine } from './lib/machine.ts'
import { measure, merge, type Measurement } from './lib/measure.ts'
import { renderTable } from './lib/table.ts'
import { loadNodeCedar } from '../src/policy/engine-node.ts'
import { ROW_NAMES, decisionRows } from './policy-rows.ts'
import { WORK, bundleWorker, serveBundle, type Bundle } from './policy-workerd.ts'

const COMPATIBILITY_DATE = '2026-11-01'
const TRIALS = 7
const DECISION_TARGET_US = 20
const RESULTS = new URL('results/policy.json', import.meta.url)

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const ms = (n: number) => `${n.toFixed(1)} ms`
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`

async function timed(url: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now()
  const response = await fetch(url)
  const body = await response.text()
  const elapsed = performance.now() - t0
  if (!response.ok) throw new Error(`${url}: ${response.status} ${body}`)
  return { ms: elapsed, body }
}

console.log(`bench:policy on ${describeMachine().cpuModel}, ${describeMachine().cores} cores\n`)
mkdirSync(WORK, { recursive: true })

// 1. Bundles ------------------------------------------------------------------------------------
const entries: [string, string][] = [
  ['noop', 'bench/policy-noop-worker.ts'],
  ['decisions', 'bench/policy-worker.ts'],
  ['edge', 'src/entry/worker.ts'],
  ['edge-cedar', 'src/entry/worker-cedar.ts'],
]
const bundles = new Map<string, Bundle>()
for (const [name, entry] of entries) {
  try {
    bundles.set(name, await bundleWorker(name, entry, COMPATIBILITY_DATE))
  } catch (err) {
    console.log(`(no bundle for ${entry}: ${(err as Error).message.split('\n')[0]})`)
  }
}
const bundleRows = [...bundles.values()].map((b) => [
  b.name,
  b.modules.length.toString(),
  kib(b.bytes),
  kib(b.gzipBytes),
])
console.log(renderTable(['bundle', 'modules', 'raw', 'gzip'], bundleRows))

// 2 + 3. Isolate start and first use, fresh workerd per trial ---------------------------------
const noopBundle = bundles.get('noop') as Bundle
const decisionsBundle = bundles.get('decisions') as Bundle
const start = { without: [] as number[], with: [] as number[] }
const firstUse = {
  instantiate: [] as number[],
  compile: [] as number[],
  firstDecision: [] as number[],
  warmDecision: [] as number[],
  noop: [] as number[],
}
for (let trial = 0; trial < TRIALS; trial++) {
  const plain = await serveBundle(noopBundle, {
    compatibilityDate: COMPATIBILITY_DATE,
    readyPath: '/noop',
  })
  start.without.push(plain.readyMs)
  await plain.stop()
  const cedar = await serveBundle(decisionsBundle, {
    compatibilityDate: COMPATIBILITY_DATE,
    readyPath: '/noop',
  })
  start.with.push(cedar.readyMs)
  for (let i = 0; i < 3; i++) await timed(`${cedar.url}/noop`)
  const init = await timed(`${cedar.url}/init`)
  const noop = await timed(`${cedar.url}/noop`)
  firstUse.instantiate.push(init.ms - noop.ms)
  firstUse.noop.push(noop.ms)
  firstUse.compile.push((await timed(`${cedar.url}/compile`)).ms - noop.ms)
  firstUse.firstDecision.push((await timed(`${cedar.url}/decide`)).ms - noop.ms)
  firstUse.warmDecision.push((await timed(`${cedar.url}/decide`)).ms - noop.ms)
  await cedar.stop()
}
const startup = {
  withoutCedarMs: median(start.without),
  withCedarUnusedMs: median(start.with),
  instantiateMs: median(firstUse.instantiate),
  compile100Ms: median(firstUse.compile),
  firstDecisionMs: median(firstUse.firstDecision),
  warmDecisionMs: median(firstUse.warmDecision),
}
console.log(
  `\n${renderTable(
    ['fresh workerd, median of ' + TRIALS, 'ms'],
    [
      ['spawn → first answer, Worker without the engine', ms(startup.withoutCedarMs)],
      ['spawn → first answer, engine .wasm in the bundle (unused)', ms(startup.withCedarUnusedMs)],
      ['first use: instantiate (initSync)', ms(startup.instantiateMs)],
      ['first use: compile 100 policies', ms(startup.compile100Ms)],
      ['first use: first decision (slice pre-parse + decide)', ms(startup.firstDecisionMs)],
      ['warm decision (request minus empty request)', ms(startup.warmDecisionMs)],
    ],
  )}`,
)

// 4. Decisions inside workerd -----------------------------------------------------------------
const workerd = await serveBundle(decisionsBundle, {
  compatibilityDate: COMPATIBILITY_DATE,
  readyPath: '/noop',
})
const workerdRows = new Map<string, Measurement>()
try {
  const setup = await fetch(`${workerd.url}/setup`, { method: 'POST' })
  if (!setup.ok) throw new Error(`setup: ${await setup.text()}`)
  const { rows: ids } = (await setup.json()) as { rows: string[] }
  const call = async (row: string, n: number) => {
    const t0 = performance.now()
    const response = await fetch(`${workerd.url}/run?row=${row}&n=${n}`)
    await response.text()
    return performance.now() - t0
  }
  for (let i = 0; i < 30; i++) await call(ids[0] as string, 0)
  const empty: number[] = []
  for (let i = 0; i < 41; i++) empty.push(await call(ids[0] as string, 0))
  const overheadMs = median(empty)
  const batch = new Map<string, number>()
  for (const row of ids) {
    let n = 16
    for (let attempt = 0; attempt < 6; attempt++) {
      const elapsed = (await call(row, n)) - overheadMs
      n = Math.min(1 << 20, Math.max(16, Math.ceil((n * 20) / Math.max(elapsed, 0.05))))
    }
    batch.set(row, n)
  }
  const samples = new Map<string, { perOpNs: number[]; ops: number; ms: number }>(
    ids.map((id) => [id, { perOpNs: [], ops: 0, ms: 0 }]),
  )
  for (let round = 0; round < 5; round++) {
    for (const row of ids) {
      const n = batch.get(row) as number
      for (let i = 0; i < 8; i++) {
        const net = Math.max((await call(row, n)) - overheadMs, 0)
        const s = samples.get(row) as { perOpNs: number[]; ops: number; ms: number }
        s.perOpNs.push((net * 1e6) / n)
        s.ops += n
        s.ms += net
      }
    }
  }
  for (const [row, s] of samples) {
    s.perOpNs.sort((a, b) => a - b)
    workerdRows.set(row, {
      opsPerSec: s.ops / (s.ms / 1000),
      meanNs: (s.ms * 1e6) / s.ops,
      p50Ns: s.perOpNs[Math.floor(s.perOpNs.length / 2)] as number,
      p99Ns: s.perOpNs[
        Math.min(s.perOpNs.length - 1, Math.floor(s.perOpNs.length * 0.99))
      ] as number,
      batch: batch.get(row) as number,
      ops: s.ops,
      totalMs: s.ms,
      samplesNs: s.perOpNs,
    })
  }
} finally {
  await workerd.stop()
}

// 5. The same rows on Node --------------------------------------------------------------------
const nodeOps = decisionRows(loadNodeCedar())
const nodeRounds = new Map<string, Measurement[]>()
for (let round = 0; round < 3; round++) {
  for (const [row, op] of nodeOps) {
    const m = await measure(op, { warmupMs: 200, timeMs: 500 })
    nodeRounds.set(row, [...(nodeRounds.get(row) ?? []), m])
  }
}
const nodeResults = new Map([...nodeRounds].map(([row, ms]) => [row, merge(ms)]))

const us = (ns: number | undefined) => (ns === undefined ? '' : (ns / 1000).toFixed(2))
console.log(
  `\n${renderTable(
    ['row', 'workerd p50 µs', 'workerd p99 µs', 'Node p50 µs', 'Node p99 µs'],
    [...workerdRows.keys()].map((row) => [
      ROW_NAMES[row] ?? row,
      us(workerdRows.get(row)?.p50Ns),
      us(workerdRows.get(row)?.p99Ns),
      us(nodeResults.get(row)?.p50Ns),
      us(nodeResults.get(row)?.p99Ns),
    ]),
  )}`,
)

const headlineNs = workerdRows.get('request-and-decision-scoped')?.p50Ns ?? NaN
const summary = [
  {
    name: 'workerd decision p50, uncached, 100 policies (µs)',
    value: headlineNs / 1000,
    target: `<= ${DECISION_TARGET_US}`,
    met: headlineNs / 1000 <= DECISION_TARGET_US,
  },
  {
    name: 'workerd decision p50, all 100 policies evaluated (µs)',
    value: (workerdRows.get('decision-unscoped')?.p50Ns ?? NaN) / 1000,
  },
  {
    name: 'Worker bundle with Cedar, gzip (KiB)',
    value: (bundles.get('edge-cedar') ?? decisionsBundle).gzipBytes / 1024,
  },
  {
    name: 'isolate start, engine in bundle unused, extra (ms)',
    value: startup.withCedarUnusedMs - startup.withoutCedarMs,
  },
  { name: 'engine instantiate, initSync (ms)', value: startup.instantiateMs },
  {
    name: 'first policy request: instantiate + compile + first decision (ms)',
    value: startup.instantiateMs + startup.compile100Ms + startup.firstDecisionMs,
  },
]
const rowJson = (m: Map<string, Measurement>) =>
  [...m].map(([id, r]) => ({
    id,
    name: ROW_NAMES[id] ?? id,
    p50Us: r.p50Ns / 1000,
    p99Us: r.p99Ns / 1000,
    meanUs: r.meanNs / 1000,
    opsPerSec: Math.round(r.opsPerSec),
    batch: r.batch,
  }))
mkdirSync(new URL('.', RESULTS), { recursive: true })
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      benchmark: 'policy',
      runAt: new Date().toISOString(),
      machine: describeMachine(),
      bundles: [...bundles.values()].map(({ name, modules, bytes, gzipBytes }) => ({
        name,
        modules: modules.length,
        bytes,
        gzipBytes,
      })),
      startup,
      startupSamples: { ...start, ...firstUse },
      workerd: rowJson(workerdRows),
      node: rowJson(nodeResults),
      summary,
    },
    null,
    2,
  )}\n`,
)
console.log('\nwrote bench/results/policy.json')
