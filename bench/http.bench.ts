/**
 * `npm run bench:http`: Gatehouse over HTTP on both runtimes, against a no-op route of the same app and
 * against peer verifiers, with autocannon on loopback. Prints tables and writes bench/results/http.json.
 *
 * Method: each row is autocannon with CONNECTIONS keep-alive connections: WARMUP_SECONDS of warm-up
 * (results dropped), then DURATION_SECONDS timed, split into ROUNDS slices interleaved with every other
 * row (all servers stay up, idle ones cost nothing; noise from other processes then hits every row
 * alike, ours and the peers'). A round runs one slice of every row, the rows a target compares
 * next to each other (`ADJACENT`), in that order in even rounds and reversed in odd ones, so no row
 * always runs early or late in a round. The rows' tables
 * pool the slices (requests/s, percentiles, CPU); a ratio of two rows is the median of its per-round
 * ratios (as `bench:token` reports its own), so a burst of load from elsewhere that falls into one
 * round moves it little. Servers run in their own
 * processes; autocannon runs here. The server's CPU use per row is reported: well under one core
 * means the row was limited by the load generator (it shares the cores) or by other processes.
 * Every request carries the same ~630-byte ES256 access token header (a new token per request on the
 * cold rows), including the no-op rows, so request sizes match. Gatehouse runs its production stack
 * with access logs on (GATEHOUSE_LOG_LEVEL=info, the default: one JSON line per request on stdout,
 * read and dropped by this process); the peers are bare Hono apps without middleware.
 *
 * Rows:
 * - Node origin (bench/lib/http-node-origin.ts: the production app + `/noop`): `/noop`, `/verify` with
 *   L1 hits (one token), `/verify` with cold tokens (a pool of distinct tokens larger than the L1, so
 *   every request misses even if the pool wraps), gateway `GET /api/orders` forwarded to a local
 *   upstream that answers 200;
 * - workerd (bench/workerd/entry.ts bundled by wrangler, run by `workerd serve`): the same four, plus
 *   a bare Hono no-op and a bare `hono/proxy` forward in the same isolate (the workerd baselines);
 * - peers (bench/lib/http-peer-server.ts, Hono on @hono/node-server): bare `/noop`, `hono/jwk`,
 *   `jose.jwtVerify` + `createLocalJWKSet`, fast-jwt without and with its cache, all verifying on
 *   every request except fast-jwt's cache.
 * Then memory: each server's peak RSS (VmHWM) after its load, and 100,000 distinct tokens through the
 * L1 in a separate process (bench/lib/http-l1-memory.ts).
 *
 * The DESIGN.md target (L1-hit `/verify` ≥ 85% of the no-op route's requests/s per runtime) is
 * reported, not asserted. Flags: `--no-workerd`, `--no-node`, `--no-peers`, `--no-memory` skip parts;
 * `--duration=<s>` and `--warmup=<s>` override the timing.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { publicJwks } from '../test/fixtures/keys.ts'
import {
  measureSlice,
  summarise,
  warmUp,
  type LoadOptions,
  type LoadResult,
  type LoadSlice,
} from './lib/http-load.ts'
import { numberArg } from './lib/cli-args.ts'
import { median } from './lib/interleave.ts'
import { memoryMiB, startNodeScript, type ServerProcess } from './lib/http-process.ts'
import { signEs256Token, signEs256Tokens, TEST_AUDIENCE, TEST_ISSUER } from './lib/http-tokens.ts'
import { bundleWorker, startWorkerd, workerdVersion } from './lib/http-workerd.ts'
import { describeMachine } from './lib/machine.ts'
import { renderTable } from './lib/table.ts'

const args = new Set(process.argv.slice(2))

const CONNECTIONS = 10
const WARMUP_SECONDS = numberArg('warmup', 2)
const DURATION_SECONDS = numberArg('duration', 5)
/** Each row's timed seconds are split into this many slices, interleaved with the other rows'. */
const ROUNDS = 5
/** Distinct tokens per runtime for the cold rows; more than the L1 holds (10,000 by default). */
const COLD_POOL = 40_000
const L1_MAX_ENTRIES = 10_000
const TARGET_RATIO = 0.85
/** Issue 15: our middleware stack costs ≤ 10% of a bare Hono no-op; the gateway ≥ 0.8 of a bare proxy. */
const MIDDLEWARE_TARGET = 0.9
const GATEWAY_TARGET = 0.8
const RSS_TARGET_MIB = 160
/** The edge Worker's date (wrangler.toml). */
const COMPATIBILITY_DATE = '2026-11-01'
const RESULTS_DIR = new URL('./results/', import.meta.url)
const script = (path: string) => new URL(path, import.meta.url).pathname

type Runtime = 'node' | 'workerd' | 'peer'
type Expect = 'ok' | 'active'
interface RowSpec {
  id: string
  runtime: Runtime
  name: string
  path: string
  cold?: boolean
  expect: Expect
}
interface Row extends RowSpec, LoadResult {
  coldTokensUsed?: number
}

const SERVER_ROWS = (runtime: 'node' | 'workerd'): RowSpec[] => [
  { id: `${runtime}-noop`, runtime, name: 'no-op route (same app)', path: '/noop', expect: 'ok' },
  {
    id: `${runtime}-verify-l1`,
    runtime,
    name: '/verify, L1 hit',
    path: '/verify',
    expect: 'active',
  },
  {
    id: `${runtime}-verify-cold`,
    runtime,
    name: '/verify, cold token',
    path: '/verify',
    cold: true,
    expect: 'active',
  },
  {
    id: `${runtime}-gateway`,
    runtime,
    name: 'gateway /api/* → upstream',
    path: '/api/orders',
    expect: 'ok',
  },
]
/** Bare Hono in the workerd Worker's isolate (bench/workerd/entry.ts): the same-runtime baselines. */
const WORKERD_BARE_ROWS: RowSpec[] = [
  {
    id: 'workerd-bare-noop',
    runtime: 'workerd',
    name: 'bare Hono no-op (same isolate)',
    path: '/bare/noop',
    expect: 'ok',
  },
  {
    id: 'workerd-bare-proxy',
    runtime: 'workerd',
    name: 'bare hono/proxy → upstream (same isolate)',
    path: '/bare/proxy/api/orders',
    expect: 'ok',
  },
]
const PEER_ROWS: RowSpec[] = [
  { id: 'peer-noop', runtime: 'peer', name: 'bare Hono no-op', path: '/noop', expect: 'ok' },
  {
    id: 'peer-hono-jwk',
    runtime: 'peer',
    name: 'hono/jwk (no cache)',
    path: '/hono-jwk',
    expect: 'active',
  },
  {
    id: 'peer-jose',
    runtime: 'peer',
    name: 'jose.jwtVerify (no cache)',
    path: '/jose',
    expect: 'active',
  },
  {
    id: 'peer-fast-jwt',
    runtime: 'peer',
    name: 'fast-jwt (no cache)',
    path: '/fast-jwt',
    expect: 'active',
  },
  {
    id: 'peer-proxy',
    runtime: 'peer',
    name: 'bare hono/proxy → upstream',
    path: '/proxy/api/orders',
    expect: 'ok',
  },
  {
    id: 'peer-fast-jwt-cache',
    runtime: 'peer',
    name: 'fast-jwt (cache hit)',
    path: '/fast-jwt-cache',
    expect: 'active',
  },
]

const started = performance.now()
const machine = { ...describeMachine(), workerd: await workerdVersion() }
console.log(
  `bench:http on ${machine.cpuModel} (${machine.cores} cores), Node ${machine.node}, ${machine.workerd}`,
)
console.log(
  `${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up (dropped) + ${DURATION_SECONDS} s timed per row ` +
    `in ${ROUNDS} interleaved slices, loopback\n`,
)

const hotToken = signEs256Token(0)
const config = {
  GATEHOUSE_ISSUER: TEST_ISSUER,
  GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
  GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
  // The production default: one access-log line per request (issue 15: logging stays on).
  GATEHOUSE_LOG_LEVEL: 'info',
  GATEHOUSE_L1_MAX_ENTRIES: String(L1_MAX_ENTRIES),
}

const rows: Row[] = []
const memory: Record<string, { peakRssMiB: number }> = {}
/** Each row's slices, one per round, in round order (the ratios are per-round medians). */
const roundSlices = new Map<string, LoadSlice[]>()

/** One request with the row's first token: the route must answer what a real verifier answers. */
async function check(server: ServerProcess, spec: RowSpec, token: string): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${server.port}${spec.path}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  const body = await response.text()
  const ok =
    response.status === 200 &&
    (spec.expect === 'ok'
      ? body === 'ok'
      : (JSON.parse(body) as { active?: unknown; sub?: unknown }).active === true)
  if (!ok) throw new Error(`${spec.id}: ${spec.path} answered ${response.status}, not a valid 200`)
}

interface Planned {
  server: ServerProcess
  spec: RowSpec
  load: LoadOptions
  counter: { used: number }
  slices: LoadSlice[]
}

function plan(server: ServerProcess, specs: RowSpec[]): Planned[] {
  return specs.map((spec) => {
    let token: string | (() => string) = hotToken
    const counter = { used: 0 }
    if (spec.cold === true) {
      const pool = signEs256Tokens(COLD_POOL)
      token = () => pool[counter.used++ % pool.length] as string
    }
    const load: LoadOptions = {
      origin: `http://127.0.0.1:${server.port}`,
      path: spec.path,
      token,
      connections: CONNECTIONS,
      pid: server.pid,
    }
    return { server, spec, load, counter, slices: [] }
  })
}

/**
 * The rows a target compares, next to each other, in the order a round measures them (the rest
 * follow in the list's order). This machine's speed swings from one second to the next (a slice's
 * CPU per request by 2–3× at times, round 16): two rows measured a second apart see much the same
 * machine, two measured ten seconds apart often do not.
 */
const ADJACENT = [
  'peer-noop',
  'node-noop',
  'node-verify-l1',
  'peer-fast-jwt-cache',
  'workerd-bare-noop',
  'workerd-noop',
  'workerd-verify-l1',
  'node-gateway',
  'peer-proxy',
  'workerd-gateway',
  'workerd-bare-proxy',
]

function measureOrder(planned: Planned[]): Planned[] {
  const rank = (row: Planned) => {
    const at = ADJACENT.indexOf(row.spec.id)
    return at === -1 ? ADJACENT.length : at
  }
  // Array.prototype.sort is stable: rows outside ADJACENT keep the list's order.
  return [...planned].sort((a, b) => rank(a) - rank(b))
}

/**
 * Every row of every server, interleaved: all servers stay up (idle ones cost nothing), each row is
 * checked and warmed up once, then each round runs one slice of every row. Comparisons across
 * servers (ours vs peers) are then as fair as those within one.
 */
async function runAll(planned: Planned[]): Promise<void> {
  for (const row of planned) {
    const { token } = row.load
    await check(row.server, row.spec, typeof token === 'string' ? token : token())
    await warmUp(row.load, WARMUP_SECONDS)
  }
  const order = measureOrder(planned)
  for (let round = 0; round < ROUNDS; round++) {
    process.stdout.write(`  round ${round + 1}/${ROUNDS}\n`)
    for (const row of round % 2 === 0 ? order : [...order].reverse()) {
      row.slices.push(await measureSlice(row.load, DURATION_SECONDS / ROUNDS))
    }
  }
  for (const { spec, counter, slices } of planned) {
    roundSlices.set(spec.id, slices)
    rows.push({
      ...spec,
      ...summarise(slices),
      ...(spec.cold === true ? { coldTokensUsed: counter.used } : {}),
    })
  }
  for (const server of new Set(planned.map((p) => p.server))) {
    memory[server.name] = { peakRssMiB: memoryMiB(server.pid).peakRss }
  }
}

const servers: ServerProcess[] = []
try {
  const planned: Planned[] = []
  const upstream = await startNodeScript('upstream', script('./lib/http-upstream.ts'), {})
  servers.push(upstream)
  const upstreamUrl = `http://127.0.0.1:${upstream.port}/`
  if (!args.has('--no-node')) {
    const origin = await startNodeScript('node-origin', script('./lib/http-node-origin.ts'), {
      ...config,
      PORT: '0',
      GATEHOUSE_UPSTREAM_URL: upstreamUrl,
    })
    servers.push(origin)
    planned.push(...plan(origin, SERVER_ROWS('node')))
  }
  if (!args.has('--no-workerd')) {
    const modules = await bundleWorker(COMPATIBILITY_DATE)
    const workerd = await startWorkerd(modules, {
      compatibilityDate: COMPATIBILITY_DATE,
      vars: { ...config, GATEHOUSE_UPSTREAM_URL: upstreamUrl },
    })
    servers.push(workerd)
    planned.push(...plan(workerd, [...SERVER_ROWS('workerd'), ...WORKERD_BARE_ROWS]))
  }
  if (!args.has('--no-peers')) {
    const peers = await startNodeScript('peers', script('./lib/http-peer-server.ts'), {
      UPSTREAM_URL: upstreamUrl,
    })
    servers.push(peers)
    planned.push(...plan(peers, PEER_ROWS))
  }
  console.log(
    `${planned.length} rows on ${servers.length - 1} servers (+ the upstream); warming up each row…`,
  )
  await runAll(planned)
} finally {
  for (const server of servers.reverse()) await server.stop()
}

let l1: Record<string, unknown> | undefined
if (!args.has('--no-memory')) {
  console.log('L1 with 100,000 distinct tokens (in-process, separate Node process)…')
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--expose-gc',
    '--experimental-strip-types',
    '--no-warnings=ExperimentalWarning',
    script('./lib/http-l1-memory.ts'),
  ])
  l1 = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>
}

// ---- report ----

const byId = new Map(rows.map((r) => [r.id, r]))
interface Ratio {
  name: string
  /** The median of `rounds`. */
  value: number
  /** The ratio in each round, in round order. */
  rounds: number[]
  target?: string
  met?: boolean
}
const ratios: Ratio[] = []
/** Requests/s of one slice. */
const sliceRps = (slice: LoadSlice) => slice.latenciesMs.length / slice.wallSeconds
/** Server CPU seconds per answered request of one slice (undefined without answers). */
const sliceCpu = (slice: LoadSlice) =>
  slice.latenciesMs.length === 0 ? undefined : slice.serverCpuSeconds / slice.latenciesMs.length
/** `of(a's slice) / of(b's slice)` per round, for the rounds where both are defined and b's is not 0. */
const perRound = (a: string, b: string, of: (slice: LoadSlice) => number | undefined) => {
  const as = roundSlices.get(a)
  const bs = roundSlices.get(b)
  if (as === undefined || bs === undefined) return []
  return as.flatMap((slice, i) => {
    const x = of(slice)
    const other = bs[i]
    const y = other === undefined ? undefined : of(other)
    return x === undefined || y === undefined || y === 0 ? [] : [x / y]
  })
}
const ratio = (name: string, a: string, b: string, target?: number) => {
  const rounds = perRound(a, b, sliceRps)
  if (rounds.length === 0) return
  const value = median(rounds)
  ratios.push({
    name,
    value,
    rounds,
    ...(target === undefined ? {} : { target: `>= ${target}`, met: value >= target }),
  })
}
ratio('Node: /verify L1 hit / no-op route (req/s)', 'node-verify-l1', 'node-noop', TARGET_RATIO)
ratio(
  'workerd: /verify L1 hit / no-op route (req/s)',
  'workerd-verify-l1',
  'workerd-noop',
  TARGET_RATIO,
)
ratio('Node: /verify cold / no-op route', 'node-verify-cold', 'node-noop')
ratio('workerd: /verify cold / no-op route', 'workerd-verify-cold', 'workerd-noop')
ratio('Node: gateway / no-op route', 'node-gateway', 'node-noop')
ratio('Node: gateway / bare hono/proxy', 'node-gateway', 'peer-proxy', GATEWAY_TARGET)
ratio('workerd: gateway / no-op route', 'workerd-gateway', 'workerd-noop')
ratio('Node /verify L1 hit vs jose.jwtVerify', 'node-verify-l1', 'peer-jose')
ratio('Node /verify L1 hit vs hono/jwk', 'node-verify-l1', 'peer-hono-jwk')
ratio('Node /verify cold vs jose.jwtVerify', 'node-verify-cold', 'peer-jose')
ratio('Node /verify cold vs fast-jwt (no cache)', 'node-verify-cold', 'peer-fast-jwt')
ratio('Node no-op (our middleware) / bare Hono no-op', 'node-noop', 'peer-noop', MIDDLEWARE_TARGET)
ratio('Node /verify L1 hit / bare Hono no-op', 'node-verify-l1', 'peer-noop', TARGET_RATIO)
ratio('Node /verify L1 hit / fast-jwt cache hit', 'node-verify-l1', 'peer-fast-jwt-cache', 1)
ratio(
  'workerd no-op (our middleware) / bare Hono no-op',
  'workerd-noop',
  'workerd-bare-noop',
  MIDDLEWARE_TARGET,
)
ratio(
  'workerd /verify L1 hit / bare Hono no-op',
  'workerd-verify-l1',
  'workerd-bare-noop',
  TARGET_RATIO,
)
ratio('workerd: gateway / bare hono/proxy', 'workerd-gateway', 'workerd-bare-proxy', GATEWAY_TARGET)

// The same comparisons by server CPU time per answered request (bare / ours; above 1 means ours costs
// less). On a shared machine a row is often limited by the load generator or by other processes, not
// by the server (see "server CPU"), and requests/s ratios swing from run to run; CPU per request is
// what the server itself spends, and moves much less. Reported beside the targets, not instead.
const cpuRatio = (name: string, ours: string, base: string) => {
  const rounds = perRound(base, ours, sliceCpu)
  if (rounds.length > 0) ratios.push({ name, value: median(rounds), rounds })
}
cpuRatio('CPU per request: bare Hono no-op / our no-op', 'node-noop', 'peer-noop')
cpuRatio('CPU per request: bare Hono no-op / Node /verify L1 hit', 'node-verify-l1', 'peer-noop')
cpuRatio(
  'CPU per request: fast-jwt cache hit / Node /verify L1 hit',
  'node-verify-l1',
  'peer-fast-jwt-cache',
)
cpuRatio('CPU per request: bare hono/proxy / Node gateway', 'node-gateway', 'peer-proxy')
cpuRatio(
  'CPU per request: workerd bare Hono no-op / our no-op',
  'workerd-noop',
  'workerd-bare-noop',
)
cpuRatio(
  'CPU per request: workerd bare Hono no-op / /verify L1 hit',
  'workerd-verify-l1',
  'workerd-bare-noop',
)
cpuRatio(
  'CPU per request: workerd bare hono/proxy / gateway',
  'workerd-gateway',
  'workerd-bare-proxy',
)

const table = renderTable(
  ['row (10 connections)', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU'],
  rows.map((r) => [
    `${r.runtime}: ${r.name}`,
    fmtRps(r.requestsPerSec),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    String(r.errors + r.non200),
    `${Math.round(r.serverCpu * 100)}%`,
  ]),
)
console.log(`\n${table}\n`)
console.log(
  renderTable(
    ['ratio (median of the rounds)', 'value', 'target', 'met', 'per round'],
    ratios.map((r) => [
      r.name,
      r.value.toFixed(2),
      r.target ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
      r.rounds.map((v) => v.toFixed(2)).join(' '),
    ]),
  ),
)
const memoryRows = Object.entries(memory).map(([name, m]) => [
  `${name} peak RSS (VmHWM) after its load`,
  `${m.peakRssMiB.toFixed(1)} MiB`,
])
if (l1 !== undefined) {
  memoryRows.push(
    [
      `L1 after ${Number(l1.tokens).toLocaleString('en-US')} distinct tokens: size / maxEntries`,
      `${l1.maxSizeSeen} / ${l1.maxEntries} (${l1.withinBound === true ? 'within bound' : 'OVER BOUND'})`,
    ],
    [
      'L1 heap retained (after GC)',
      `${Number(l1.retainedMiB).toFixed(1)} MiB (${Math.round(Number(l1.bytesPerEntry))} B/entry)`,
    ],
    [
      'heap used before / after (after GC)',
      `${Number(l1.heapBeforeMiB).toFixed(1)} / ${Number(l1.heapAfterMiB).toFixed(1)} MiB`,
    ],
  )
}
console.log(`\n${renderTable(['memory', 'value'], memoryRows)}`)
const wrapped = rows.filter((r) => r.coldTokensUsed !== undefined && r.coldTokensUsed > COLD_POOL)
if (wrapped.length > 0) {
  console.log(
    `\nnote: the cold pool wrapped on ${wrapped.map((r) => r.id).join(', ')}; the pool (${COLD_POOL}) is larger than the L1 (${L1_MAX_ENTRIES}), so a reused token had been evicted and still missed.`,
  )
}

// The lines `npm run bench` (bench/run-all.ts) shows for this benchmark in its combined table.
const summary: { name: string; value: number | string; target?: string; met?: boolean }[] = []
for (const r of ratios.filter((r) => r.target !== undefined)) summary.push(r)
for (const id of [
  'node-verify-l1',
  'node-verify-cold',
  'node-gateway',
  'workerd-verify-l1',
  'workerd-verify-cold',
  'workerd-gateway',
]) {
  const r = byId.get(id)
  if (r !== undefined) {
    summary.push({
      name: `${r.runtime}: ${r.name}, req/s (p99 ${r.p99Ms.toFixed(2)} ms)`,
      value: r.requestsPerSec,
    })
  }
}
for (const r of ratios.filter((r) => r.name.includes(' vs ') || r.name.startsWith('CPU per')))
  summary.push(r)
if (memory['node-origin'] !== undefined) {
  summary.push({
    name: 'Node origin peak RSS under load',
    value: `${memory['node-origin'].peakRssMiB.toFixed(0)} MiB`,
    target: `<= ${RSS_TARGET_MIB} MiB`,
    met: memory['node-origin'].peakRssMiB <= RSS_TARGET_MIB,
  })
}
if (l1 !== undefined) {
  summary.push({
    name: `L1 size after ${Number(l1.tokens).toLocaleString('en-US')} distinct tokens (heap ${Number(l1.retainedMiB).toFixed(1)} MiB)`,
    value: String(l1.maxSizeSeen),
    target: `<= ${String(l1.maxEntries)}`,
    met: l1.withinBound === true,
  })
}

const durationSeconds = Math.round((performance.now() - started) / 100) / 10
mkdirSync(RESULTS_DIR, { recursive: true })
writeFileSync(
  new URL('http.json', RESULTS_DIR),
  `${JSON.stringify(
    {
      benchmark: 'http',
      runAt: new Date().toISOString(),
      durationSeconds,
      machine,
      method: {
        tool: 'autocannon (in the bench process), servers in separate processes, loopback',
        connections: CONNECTIONS,
        warmupSeconds: WARMUP_SECONDS,
        durationSeconds: DURATION_SECONDS,
        rounds: ROUNDS,
        coldTokenPool: COLD_POOL,
        l1MaxEntries: L1_MAX_ENTRIES,
        logLevel: 'info',
        compatibilityDate: COMPATIBILITY_DATE,
        latency: 'per-response times from autocannon, fractional ms',
        ratios:
          'median of the per-round ratios; compared rows measured next to each other, the order reversed every other round',
      },
      summary,
      rows,
      ratios,
      memory,
      l1,
    },
    null,
    2,
  )}\n`,
)
console.log(`\nwrote bench/results/http.json (${durationSeconds} s)`)

function fmtRps(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
