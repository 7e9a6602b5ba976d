/**
 * workerd's half of `bench/cpu-per-request.ts`: server CPU per request of the bench Worker
 * (bench/workerd/entry.ts under `workerd serve`, as `npm run bench:http` runs it) against the same
 * Worker built from another checkout, interleaved, at saturation (autocannon as fast as it goes, 10
 * connections). One `workerd serve` process per checkout; CPU is the process's user + system time
 * over each slice (/proc/<pid>/stat) divided by the answers. The bare rows (`/bare/*` in the same
 * isolate) come from this checkout's process. For A/B of a change on workerd (issue 15, round 8).
 *
 * `--base=<dir>` (required): the other checkout, `node_modules` linked in.
 * `--rows=gateway,noop,verify` (default `gateway`), `--seconds=<s>` per slice (default 2),
 * `--rounds=<n>` (default 5).
 *
 * @example node --experimental-strip-types bench/cpu-per-request-workerd.ts --base=/tmp/perf-base --rows=gateway
 */
import { publicJwks } from '../test/fixtures/keys.ts'
import { arg, numberArg } from './lib/cli-args.ts'
import { measureSlice, warmUp, type LoadOptions, type LoadSlice } from './lib/http-load.ts'
import { startNodeScript, type ServerProcess } from './lib/http-process.ts'
import { signEs256Token, TEST_AUDIENCE, TEST_ISSUER } from './lib/http-tokens.ts'
import { bundleWorker, startWorkerd } from './lib/http-workerd.ts'
import { renderTable } from './lib/table.ts'

const base = arg('base')
if (base === undefined) throw new Error('--base=<checkout> is required')
const wanted = (arg('rows') ?? 'gateway').split(',')
const SECONDS = numberArg('seconds', 2)
const ROUNDS = numberArg('rounds', 5)
/** bench:http's compatibility date for the bench Worker. */
const COMPATIBILITY_DATE = '2026-11-01'

const config = {
  GATEHOUSE_ISSUER: TEST_ISSUER,
  GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
  GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
  GATEHOUSE_LOG_LEVEL: 'info',
}
const token = signEs256Token(0)
const OURS_PATHS: Record<string, string> = {
  gateway: '/api/orders',
  noop: '/noop',
  verify: '/verify',
}
const BARE_PATHS: Record<string, [string, string]> = {
  gateway: ['bare hono/proxy', '/bare/proxy/api/orders'],
  noop: ['bare Hono /noop', '/bare/noop'],
}

interface Row {
  id: string
  load: LoadOptions
  slices: LoadSlice[]
}

const servers: ServerProcess[] = []
try {
  const upstream = await startNodeScript(
    'upstream',
    new URL('./lib/http-upstream.ts', import.meta.url).pathname,
    {},
  )
  servers.push(upstream)
  const rows: Row[] = []
  const checkouts: [string, string][] = [
    ['base', `${base.replace(/\/$/, '')}/bench/workerd/entry.ts`],
    ['ours', 'bench/workerd/entry.ts'],
  ]
  for (const [name, entry] of checkouts) {
    const workDir = new URL(`./.work/cpu-per-request-workerd-${name}`, import.meta.url).pathname
    const modules = await bundleWorker(COMPATIBILITY_DATE, { entry, workDir })
    const workerd = await startWorkerd(modules, {
      compatibilityDate: COMPATIBILITY_DATE,
      vars: { ...config, GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/` },
      workDir,
    })
    servers.push(workerd)
    const row = (id: string, path: string): Row => ({
      id,
      load: {
        origin: `http://127.0.0.1:${workerd.port}`,
        path,
        token,
        connections: 10,
        pid: workerd.pid,
      },
      slices: [],
    })
    for (const w of wanted) {
      const path = OURS_PATHS[w]
      if (path !== undefined) rows.push(row(`${name} ${w}`, path))
      const bare = BARE_PATHS[w]
      if (name === 'ours' && bare !== undefined) rows.push(row(...bare))
    }
  }
  for (const r of rows) await warmUp(r.load, 2)
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) {
      const slice = await measureSlice(r.load, SECONDS)
      if (slice.non200 > 0 || slice.errors > 0)
        throw new Error(`${r.id}: ${slice.non200} non-200 answers, ${slice.errors} errors`)
      r.slices.push(slice)
    }
  }
  const perRequestUs = (s: LoadSlice) => (s.serverCpuSeconds / s.latenciesMs.length) * 1e6
  console.log(
    `\nworkerd, unlimited rate, 10 connections, ${SECONDS} s × ${ROUNDS} interleaved rounds\n`,
  )
  console.log(
    renderTable(
      ['row', 'CPU µs/request (median)', 'spread', 'req/s (median)'],
      rows.map((r) => {
        const us = r.slices.map(perRequestUs).sort((a, b) => a - b)
        const rps = r.slices.map((s) => s.latenciesMs.length / s.wallSeconds).sort((a, b) => a - b)
        const mid = Math.floor(us.length / 2)
        return [
          r.id,
          String(Math.round(us[mid] as number)),
          `${Math.round(us[0] as number)}–${Math.round(us[us.length - 1] as number)}`,
          String(Math.round(rps[mid] as number)),
        ]
      }),
    ),
  )
} finally {
  for (const server of servers.reverse()) await server.stop()
}
