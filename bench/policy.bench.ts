/**
 * `npm run bench:policy`: what Cedar decisions cost at the edge (docs/policy.md, "Cost at the edge").
 *
 * 1. Bundle: the Worker entries without (src/entry/worker.ts) and with (worker-cedar.ts) the engine,
 *    raw and gzip, as wrangler uploads them.
 * 2. Isolate start, fresh `workerd serve` per trial: spawn to first answer, and the process's CPU
 *    time by then, for a Worker without and with the engine's .wasm in its bundle (unused).
 * 3. First use, same processes: instantiating the engine (initSync), compiling the 100-policy set,
 *    the first decision (its action slice is pre-parsed then), a warm decision.
 * 4. Decisions inside workerd, 100 policies: n decisions per request, timed from outside minus the
 *    empty request (bench/lib/workerd.ts's method), and workerd's CPU time per decision.
 * 5. The same decision rows on Node, in process (bench/lib/measure.ts).
 * 6. Gateway throughput with policy over without, side by side (bench/policy-gateway.ts): decisions
 *    shared across resource ids, and every decision uncached.
 *
 * Results: bench/results/policy.json (git-ignored: a run never dirties tracked files).
 *
 * Run it as `npm run bench:policy` (`npm run bench` does): the script passes `--no-maglev`. Node
 * 22's Maglev JIT crashed this process in V8's deoptimizer (`Fatal error … unreachable code`)
 * during the workerd decision step, three times on 2026-12-06 (13:13, 13:19, 13:54 UTC); without
 * Maglev (V8's other
 * tiers, Ignition/Sparkplug/TurboFan, still run) it has not. The flag changes only this driver
 * process: the rows timed in workerd run in workerd's own V8, and the Node rows are ratios to
 * each other within this one process.
 *
 * WebAssembly tiering: V8 runs the engine's functions first with its baseline compiler (Liftoff)
 * and moves hot ones to TurboFan in the background; a decision costs ~1.6× as much before that
 * (measured on Node with --liftoff-only vs --no-liftoff). In workerd and on Node it takes a few
 * thousand decisions, so every decision row is warmed past that before it is timed, and the
 * first-use rows (a fresh isolate) show the cold cost.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { loadNodeCedar } from '../src/policy/engine-node.ts'
import { cpuSeconds } from './lib/http-process.ts'
import { describeMachine } from './lib/machine.ts'
import { measure, merge, type Measurement } from './lib/measure.ts'
import { renderTable } from './lib/table.ts'
import { measureGatewayRatio } from './policy-gateway.ts'
import { ROW_NAMES, benchDocuments, decisionRows } from './policy-rows.ts'
import { WORK, bundleWorker, serveBundle, type Bundle } from './policy-workerd.ts'

const COMPATIBILITY_DATE = '2026-11-01'
const TRIALS = 7
const DECISION_TARGET_US = 20
const GATEWAY_TARGET = 0.8
const RESULTS = new URL('results/policy.json', import.meta.url)
const startedAt = new Date()
const loadAtStart = loadavg()

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const ms = (n: number) => n.toFixed(1)
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`

async function timed(url: string, init?: RequestInit): Promise<number> {
  const t0 = performance.now()
  const response = await fetch(url, init)
  const body = await response.text()
  if (!response.ok) throw new Error(`${url}: ${response.status} ${body}`)
  return performance.now() - t0
}

const machine = describeMachine()
console.log(
  `bench:policy on ${machine.cpuModel}, ${machine.cores} cores, load average ${loadAtStart
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
)
mkdirSync(WORK, { recursive: true })
// Published documents, prepared on Node as `gatehouse policies publish` does.
const documents = benchDocuments(loadNodeCedar())

// 1. Bundles ------------------------------------------------------------------------------------
const bundles = new Map<string, Bundle>()
for (const [name, entry] of [
  ['noop', 'bench/policy-noop-worker.ts'],
  ['decisions', 'bench/policy-worker.ts'],
  ['edge', 'src/entry/worker.ts'],
  ['edge-cedar', 'src/entry/worker-cedar.ts'],
] as const) {
  bundles.set(name, await bundleWorker(name, entry, COMPATIBILITY_DATE))
}
const bundle = (name: string) => bundles.get(name) as Bundle
console.log(
  renderTable(
    ['bundle (wrangler deploy --dry-run)', 'modules', 'raw', 'gzip'],
    [...bundles.values()].map((b) => [
      b.name,
      String(b.modules.length),
      kib(b.bytes),
      kib(b.gzipBytes),
    ]),
  ),
)

// 2 + 3. Isolate start and first use, fresh workerd per trial ---------------------------------
const start = {
  withoutMs: [] as number[],
  withMs: [] as number[],
  withoutCpuMs: [] as number[],
  withCpuMs: [] as number[],
}
const firstUse = {
  instantiateMs: [] as number[],
  compileMs: [] as number[],
  firstDecisionMs: [] as number[],
  warmDecisionMs: [] as number[],
}
for (let trial = 0; trial < TRIALS; trial++) {
  const options = { compatibilityDate: COMPATIBILITY_DATE, readyPath: '/noop' }
  const plain = await serveBundle(bundle('noop'), options)
  start.withoutMs.push(plain.readyMs)
  start.withoutCpuMs.push(cpuSeconds(plain.child.pid as number) * 1000)
  await plain.stop()
  const cedar = await serveBundle(bundle('decisions'), options)
  start.withMs.push(cedar.readyMs)
  start.withCpuMs.push(cpuSeconds(cedar.child.pid as number) * 1000)
  for (let i = 0; i < 3; i++) await timed(`${cedar.url}/noop`)
  const init = await timed(`${cedar.url}/init`)
  const noop = await timed(`${cedar.url}/noop`)
  firstUse.instantiateMs.push(init - noop)
  firstUse.compileMs.push(
    (await timed(`${cedar.url}/compile`, { method: 'POST', body: documents.scoped })) - noop,
  )
  firstUse.firstDecisionMs.push((await timed(`${cedar.url}/decide`)) - noop)
  firstUse.warmDecisionMs.push((await timed(`${cedar.url}/decide`)) - noop)
  await cedar.stop()
}
const startup = {
  withoutCedarMs: median(start.withoutMs),
  withCedarUnusedMs: median(start.withMs),
  withoutCedarCpuMs: median(start.withoutCpuMs),
  withCedarUnusedCpuMs: median(start.withCpuMs),
  instantiateMs: median(firstUse.instantiateMs),
  compile100Ms: median(firstUse.compileMs),
  firstDecisionMs: median(firstUse.firstDecisionMs),
  warmDecisionMs: median(firstUse.warmDecisionMs),
}
console.log(
  `\n${renderTable(
    [`fresh workerd per trial, median of ${TRIALS}`, 'wall ms', 'workerd CPU ms'],
    [
      [
        'spawn → first answer, Worker without the engine',
        ms(startup.withoutCedarMs),
        ms(startup.withoutCedarCpuMs),
      ],
      [
        'spawn → first answer, engine .wasm in the bundle (unused)',
        ms(startup.withCedarUnusedMs),
        ms(startup.withCedarUnusedCpuMs),
      ],
      ['first use: instantiate (initSync)', ms(startup.instantiateMs), ''],
      ['first use: compile 100 policies', ms(startup.compile100Ms), ''],
      ['first use: first decision (slice pre-parse + decide)', ms(startup.firstDecisionMs), ''],
      ['a warm decision (request minus empty request)', ms(startup.warmDecisionMs), ''],
    ],
  )}`,
)

// 4. Decisions inside workerd -----------------------------------------------------------------
interface WorkerdRow extends Measurement {
  /** workerd's CPU time per op over the timed requests, minus that of empty requests. */
  cpuUs: number
}
const workerdRows = new Map<string, WorkerdRow>()
const workerd = await serveBundle(bundle('decisions'), {
  compatibilityDate: COMPATIBILITY_DATE,
  readyPath: '/noop',
})
try {
  const pid = workerd.child.pid as number
  const ids = (
    (await (
      await fetch(`${workerd.url}/setup`, { method: 'POST', body: JSON.stringify(documents) })
    ).json()) as { rows: string[] }
  ).rows
  const call = (row: string, n: number) => timed(`${workerd.url}/run?row=${row}&n=${n}`)
  for (let i = 0; i < 30; i++) await call(ids[0] as string, 0)
  // Past WebAssembly tier-up (see the header): 10,000 ops of every row before calibrating.
  for (const row of ids) for (let i = 0; i < 20; i++) await call(row, 500)
  const empty: number[] = []
  const cpu0 = cpuSeconds(pid)
  for (let i = 0; i < 41; i++) empty.push(await call(ids[0] as string, 0))
  const emptyCpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / 41
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
  const samples = new Map(
    ids.map((id) => [id, { perOpNs: [] as number[], ops: 0, ms: 0, cpuMs: 0 }]),
  )
  for (let round = 0; round < 5; round++) {
    for (const row of ids) {
      const n = batch.get(row) as number
      const s = samples.get(row) as { perOpNs: number[]; ops: number; ms: number; cpuMs: number }
      const c0 = cpuSeconds(pid)
      for (let i = 0; i < 8; i++) {
        const net = Math.max((await call(row, n)) - overheadMs, 0)
        s.perOpNs.push((net * 1e6) / n)
        s.ops += n
        s.ms += net
      }
      s.cpuMs += (cpuSeconds(pid) - c0) * 1000 - 8 * emptyCpuMs
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
      cpuUs: Math.max(0, (s.cpuMs * 1000) / s.ops),
    })
  }
} finally {
  await workerd.stop()
}

// 5. The same rows on Node --------------------------------------------------------------------
const nodeRounds = new Map<string, Measurement[]>()
const nodeOps = decisionRows(loadNodeCedar(), documents)
// Past WebAssembly tier-up, as in workerd.
for (const op of nodeOps.values()) for (let i = 0; i < 10_000; i++) op()
for (let round = 0; round < 3; round++) {
  for (const [row, op] of nodeOps) {
    const m = await measure(op, { warmupMs: 200, timeMs: 500 })
    nodeRounds.set(row, [...(nodeRounds.get(row) ?? []), m])
  }
}
const nodeRows = new Map([...nodeRounds].map(([row, rounds]) => [row, merge(rounds)]))

const us = (ns: number | undefined) => (ns === undefined ? '' : (ns / 1000).toFixed(2))
console.log(
  `\n${renderTable(
    ['row', 'workerd p50 µs', 'p99 µs', 'CPU µs/op', 'Node p50 µs', 'p99 µs'],
    [...workerdRows].map(([row, w]) => [
      ROW_NAMES[row] ?? row,
      us(w.p50Ns),
      us(w.p99Ns),
      w.cpuUs.toFixed(2),
      us(nodeRows.get(row)?.p50Ns),
      us(nodeRows.get(row)?.p99Ns),
    ]),
  )}`,
)

// 6. Gateway throughput with policy over without -----------------------------------------------
const gateway = await measureGatewayRatio(bundle('edge-cedar'), {
  compatibilityDate: COMPATIBILITY_DATE,
  slices: 7,
  connections: 10,
})
const rps = (n: number) => Math.round(n).toLocaleString('en-US')
console.log(
  `\n${renderTable(
    [
      `workerd gateway, ${gateway.connections} connections`,
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU',
      'CPU µs/req',
    ],
    [
      ['without policy', gateway.plain],
      ['100 policies, no policy names an id (decision per principal and route)', gateway.policy],
      ['100 policies, a forbid names an id (every decision uncached)', gateway.perId],
    ].map(([name, r]) => {
      const row = r as typeof gateway.plain
      return [
        name as string,
        rps(row.requestsPerSec),
        row.p50Ms.toFixed(2),
        row.p99Ms.toFixed(2),
        `${Math.round(row.serverCpu * 100)}%`,
        Math.round((row.serverCpu / row.requestsPerSec) * 1e6).toString(),
      ]
    }),
  )}\nratio with/without: ${gateway.ratio.toFixed(2)} (target ≥ ${GATEWAY_TARGET}); ` +
    `every decision uncached: ${gateway.perIdRatio.toFixed(2)} (its uncached decisions by the ` +
    `evaluator / the engine: ${gateway.perIdDecidedBy?.evaluator ?? '?'} / ` +
    `${gateway.perIdDecidedBy?.engine ?? '?'})`,
)

const decisionUs = (workerdRows.get('request-and-decision-scoped')?.p50Ns ?? NaN) / 1000
const summary = [
  {
    name: 'workerd decision p50, uncached, 100 policies (µs)',
    value: decisionUs,
    target: `<= ${DECISION_TARGET_US}`,
    met: decisionUs <= DECISION_TARGET_US,
  },
  {
    name: 'workerd CPU per decision, uncached, 100 policies (µs)',
    value: workerdRows.get('request-and-decision-scoped')?.cpuUs ?? NaN,
  },
  {
    name: 'workerd decision p50, uncached, by the engine (evaluator off) (µs)',
    value: (workerdRows.get('decision-scoped-engine')?.p50Ns ?? NaN) / 1000,
  },
  {
    name: 'workerd decision p50, all 100 policies evaluated (µs)',
    value: (workerdRows.get('decision-unscoped')?.p50Ns ?? NaN) / 1000,
  },
  {
    name: 'gateway req/s with policy / without',
    value: gateway.ratio,
    target: `>= ${GATEWAY_TARGET}`,
    met: gateway.ratio >= GATEWAY_TARGET,
  },
  {
    name: 'gateway req/s with policy / without, every decision uncached',
    value: gateway.perIdRatio,
    target: `>= ${GATEWAY_TARGET}`,
    met: gateway.perIdRatio >= GATEWAY_TARGET,
  },
  { name: 'Worker bundle with Cedar, gzip (KiB)', value: bundle('edge-cedar').gzipBytes / 1024 },
  {
    name: 'isolate start with the unused .wasm, extra wall (ms)',
    value: startup.withCedarUnusedMs - startup.withoutCedarMs,
  },
  { name: 'engine instantiate, initSync (ms)', value: startup.instantiateMs },
  {
    name: 'first policy decision: instantiate + compile 100 + decide (ms)',
    value: startup.instantiateMs + startup.compile100Ms + startup.firstDecisionMs,
  },
]
const rowJson = <R extends Measurement>(rows: Map<string, R>) =>
  [...rows].map(([id, r]) => ({
    id,
    name: ROW_NAMES[id] ?? id,
    p50Us: r.p50Ns / 1000,
    p99Us: r.p99Ns / 1000,
    meanUs: r.meanNs / 1000,
    ...('cpuUs' in r ? { cpuUs: r.cpuUs } : {}),
    opsPerSec: Math.round(r.opsPerSec),
    batch: r.batch,
  }))
const strip = ({ latenciesMs: _, ...rest }: Record<string, unknown>) => rest
mkdirSync(new URL('.', RESULTS), { recursive: true })
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      benchmark: 'policy',
      runAt: startedAt.toISOString(),
      loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
      machine,
      bundles: [...bundles.values()].map(({ name, modules, bytes, gzipBytes }) => ({
        name,
        modules: modules.length,
        bytes,
        gzipBytes,
      })),
      startup,
      startupSamples: { ...start, ...firstUse },
      workerd: rowJson(workerdRows),
      node: rowJson(nodeRows),
      gateway: {
        ...gateway,
        plain: strip(gateway.plain as unknown as Record<string, unknown>),
        policy: strip(gateway.policy as unknown as Record<string, unknown>),
        perId: strip(gateway.perId as unknown as Record<string, unknown>),
      },
      summary,
    },
    null,
    2,
  )}\n`,
)
console.log('\nwrote bench/results/policy.json')
