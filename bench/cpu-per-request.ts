/**
 * Server CPU per request at a fixed request rate: what a route costs the server itself, measured so
 * that a busy, shared machine moves it little (issue 15). `npm run bench:http` drives each server as
 * hard as the load generator can, so on 2 shared cores its requests/s ratios swing with whatever else
 * runs; here every row gets the same offered rate, well under what one core serves, and the server's
 * user + system CPU time over the slice (/proc/<pid>/stat) is divided by the responses it sent.
 *
 * Rows: the bench Node origin (bench/lib/http-node-origin.ts: production stack, access log at info)
 * `/noop`, `/verify` (L1 hit) and the gateway `/api/orders`; the bare Hono peers `/noop`,
 * `/fast-jwt-cache` and `/proxy/api/orders` (bench/lib/http-peer-server.ts). Each row is warmed up,
 * then run ROUNDS times, interleaved with the other rows; the median and the spread (min–max) of the
 * rounds are printed, with the ratios bare / ours (above 1: ours costs less CPU than the bare row).
 *
 * `--base=<dir>` adds the same Node origin rows from another checkout of the repository (for A/B of a
 * change: `git worktree add --detach <dir> main`, with `node_modules` linked in), interleaved too.
 * `--rate=<req/s>` (default 1000; 0 = unlimited, the server's saturation), `--seconds=<s>` per slice (default 5), `--rounds=<n>` (default 3).
 * `--together` runs each round's slices at the same time instead of one after another (one row per
 * server: CPU is read per process), so every row sees the same moment of a host whose speed drifts
 * by half from minute to minute (round 13); ratios are then also given per round (median).
 * `--rows=gateway,proxy` keeps only the rows whose id contains one of the words (ratios whose rows
 * were left out are not printed). `--base-flags=<flag>[,<flag>…]` starts the base's origin with
 * these Node flags: with `--base=` a checkout of the same commit, an A/B of a V8 setting (the
 * origin's heap growth policy yields to `--heap-growing-percent=100`, src/entry/node-heap.ts).
 *
 * @example node --experimental-strip-types bench/cpu-per-request.ts --base=/tmp/perf-base
 */
import autocannon from 'autocannon'
import { arg, numberArg } from './lib/cli-args.ts'
import { startCpuRowServers, type RowSpec } from './lib/http-cpu-rows.ts'
import { cpuSeconds, memoryMiB, type ServerProcess } from './lib/http-process.ts'
import { signEs256Token } from './lib/http-tokens.ts'
import { renderTable } from './lib/table.ts'

/** 0: as fast as the load generator goes (saturation), as `npm run bench:http` does. */
const RATE = numberArg('rate', 1000, 0)
const SECONDS = numberArg('seconds', 5)
const ROUNDS = numberArg('rounds', 3)
const WARMUP_SECONDS = 2
const CONNECTIONS = 10
const base = arg('base')
const rowFilter = arg('rows')?.split(',')
const baseFlags = arg('base-flags')?.split(',') ?? []
const TOGETHER = process.argv.includes('--together')
const here = new URL('..', import.meta.url).pathname

interface Row extends RowSpec {
  perRequestUs: number[]
  achievedRps: number[]
}

const token = signEs256Token(0)
/** One slice at RATE: server CPU µs per response and the rate actually achieved. */
async function slice(server: ServerProcess, path: string, seconds: number) {
  const cpu0 = cpuSeconds(server.pid)
  const t0 = performance.now()
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${path}`,
    connections: CONNECTIONS,
    ...(RATE > 0 ? { overallRate: RATE } : {}),
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  })
  const wall = (performance.now() - t0) / 1000
  const cpu = cpuSeconds(server.pid) - cpu0
  const answered = result['2xx']
  if (answered === 0 || result.non2xx > 0 || result.errors > 0)
    throw new Error(`${server.name} ${path}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return { perRequestUs: (cpu / answered) * 1e6, achievedRps: answered / wall }
}
type Slice = Awaited<ReturnType<typeof slice>>

const servers = new Map<string, ServerProcess>()
try {
  const started = await startCpuRowServers(servers, {
    here,
    ...(base !== undefined ? { base } : {}),
    baseFlags,
    ...(rowFilter !== undefined ? { rowFilter } : {}),
  })
  const origins = started.origins
  const rows: Row[] = started.rows.map((s) => ({ ...s, perRequestUs: [], achievedRps: [] }))
  for (const row of rows)
    await slice(servers.get(row.server) as ServerProcess, row.path, WARMUP_SECONDS)
  if (TOGETHER && new Set(rows.map((r) => r.server)).size !== rows.length)
    throw new Error('--together needs one row per server: pick rows with --rows=')
  for (let round = 0; round < ROUNDS; round++) {
    process.stdout.write(`round ${round + 1}/${ROUNDS}\n`)
    const measure = (row: Row) => slice(servers.get(row.server) as ServerProcess, row.path, SECONDS)
    let slices: Slice[] = []
    if (TOGETHER) slices = await Promise.all(rows.map(measure))
    else for (const row of rows) slices.push(await measure(row))
    rows.forEach((row, i) => {
      const s = slices[i] as Slice
      row.perRequestUs.push(s.perRequestUs)
      row.achievedRps.push(s.achievedRps)
    })
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.floor(s.length / 2)] as number
  }
  const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`
  console.log(
    `\n${RATE > 0 ? `${RATE} req/s offered` : 'unlimited rate'}, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} ${TOGETHER ? 'concurrent' : 'interleaved'} rounds\n`,
  )
  console.log(
    renderTable(
      ['row', 'CPU µs/request (median)', 'spread', 'achieved req/s'],
      rows.map((r) => [
        r.id,
        String(Math.round(median(r.perRequestUs))),
        spread(r.perRequestUs),
        String(Math.round(median(r.achievedRps))),
      ]),
    ),
  )
  const byId = new Map(rows.map((r) => [r.id, median(r.perRequestUs)]))
  // Each round's own ratio to the first row, then their median: with `--together` the rows of a
  // round were measured at the same moment, so the host's drift cancels out of these.
  const [first, ...others] = rows
  if (first !== undefined && others.length > 0) {
    const perRound = (row: Row) =>
      median(first.perRequestUs.map((v, i) => v / (row.perRequestUs[i] as number))).toFixed(3)
    console.log(
      `\n${renderTable(
        [`CPU ratio per round, median (${first.id} / row)`, 'value'],
        others.map((row) => [row.id, perRound(row)]),
      )}`,
    )
  }
  const ratio = (bare: string, ours: string) =>
    byId.has(bare) && byId.has(ours)
      ? ((byId.get(bare) as number) / (byId.get(ours) as number)).toFixed(2)
      : '—'
  const ratioRows: string[][] = []
  for (const name of origins) {
    ratioRows.push(
      [`bare Hono /noop / ${name} /noop`, ratio('bare Hono /noop', `${name} /noop`)],
      [`bare Hono /noop / ${name} /verify L1`, ratio('bare Hono /noop', `${name} /verify L1`)],
      [`fast-jwt cache / ${name} /verify L1`, ratio('bare fast-jwt cache', `${name} /verify L1`)],
      [`bare hono/proxy / ${name} gateway`, ratio('bare hono/proxy', `${name} gateway`)],
    )
  }
  const measuredRatios = ratioRows.filter(([, value]) => value !== '—')
  console.log(
    `\n${renderTable(['CPU ratio (bare / ours; ≥ 1: ours cheaper)', 'value'], measuredRatios)}`,
  )
  for (const [name, server] of servers)
    console.log(`${name} peak RSS ${memoryMiB(server.pid).peakRss.toFixed(0)} MiB`)
} finally {
  for (const server of [...servers.values()].reverse()) await server.stop()
}
