/**
 * What each layer of the Node origin's request stack costs: server CPU per `/noop` request at
 * saturation (autocannon as fast as it goes, 10 connections), one server per stack
 * (bench/lib/http-stack-variants.ts), interleaved rounds, median and spread. Each step adds one thing
 * to the one before, so the differences between rows are the layers' costs (issue 15):
 *
 *   bare            Hono, one route, no middleware (Hono calls the handler directly, no compose)
 *   bare-id         + only a new request id in X-Request-Id (what the id costs on the wire)
 *   one-async-layer + one `async (c, next) => { await next() }` middleware
 *   observer-nolog  + our request observer (request id, X-Request-Id) with the access log off
 *   observer        + the access log at info, batched to stdout
 *   observer-hooks  + the Node request hooks (request guard, Prometheus metrics)
 *   production      the bench's Node origin stack: createApp (its routes), guard and metrics hooks,
 *                   log at info
 *   origin          the Node origin of `npm run bench:http` itself (bench/lib/http-node-origin.ts:
 *                   `startNodeServer` as `npm start` runs it, compiled, with the heap growth policy,
 *                   the parser refusals and the server's own listeners)
 *   peer            the bare peers' server of `npm run bench:http` (bench/lib/http-peer-server.ts),
 *                   whose `/noop` is that bench's bare Hono row
 *   origin-nolog    `origin` with its access log off (`GATEHOUSE_LOG_LEVEL=warn`)
 *   origin-raw      `origin`'s process answering `GET /raw-noop` before any listener
 *   peer-raw        `peer`'s process answering the same (bench/lib/raw-noop-preload.ts: bare
 *                   Hono's bytes, no Hono, no id, no log)
 *
 * `origin`, `peer` and their variants are not in the default set (ask with `--stacks=`): they say
 * how far the bench's own servers are from `production` and `bare` (issue 15, round 8), and whether
 * a gap is the process (`origin-raw` against `peer-raw`) or the stack (`origin` against
 * `origin-raw`; round 12).
 *
 * Our stacks are served with `NodeResponseWithId`, as node-server.ts serves the origin.
 *
 * @example node --experimental-strip-types bench/stack-cost.ts --rounds=5 --stacks=bare-id,production
 * @example node --experimental-strip-types bench/stack-cost.ts --stacks=origin,origin-nolog,origin-raw,peer,peer-raw
 */
import autocannon from 'autocannon'
import { publicJwks } from '../test/fixtures/keys.ts'
import { cpuSeconds, startNodeScript, type ServerProcess } from './lib/http-process.ts'
import { signEs256Token, TEST_AUDIENCE, TEST_ISSUER } from './lib/http-tokens.ts'
import { renderTable } from './lib/table.ts'

const ALL_STACKS = [
  'bare',
  'bare-id',
  'one-async-layer',
  'observer-nolog',
  'observer',
  'production',
]
/** `--stacks=bare,production`: a subset (bare is always measured, as the ratios' base). */
const chosen = process.argv.find((a) => a.startsWith('--stacks='))?.slice('--stacks='.length)
const STACKS =
  chosen === undefined ? ALL_STACKS : ['bare', ...chosen.split(',').filter((s) => s !== 'bare')]
const ROUNDS = Number(
  process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 5,
)
const SLICE_SECONDS = 2
const token = signEs256Token(0)
const script = (path: string) => new URL(path, import.meta.url).pathname
const ORIGIN = script('./lib/http-node-origin.ts')
const PEER = script('./lib/http-peer-server.ts')
const RAW = { path: '/raw-noop', nodeFlags: [`--import=${script('./lib/raw-noop-preload.ts')}`] }

/** How a stack is served: its script (default: the variants), path, Node flags, environment. */
interface StackServer {
  script: string
  path?: string
  nodeFlags?: string[]
  env?: Record<string, string>
}
/** bench:http's own servers and their variants; every other stack is a variant's (`STACK`). */
const SERVERS: Record<string, StackServer> = {
  origin: { script: ORIGIN },
  'origin-nolog': { script: ORIGIN, env: { GATEHOUSE_LOG_LEVEL: 'warn' } },
  'origin-raw': { script: ORIGIN, ...RAW },
  peer: { script: PEER },
  'peer-raw': { script: PEER, ...RAW },
}
const serverOf = (stack: string): StackServer =>
  SERVERS[stack] ?? { script: script('./lib/http-stack-variants.ts') }

/** Server CPU µs per answered request over one slice. */
async function slice(server: ServerProcess, seconds: number): Promise<number> {
  const cpu0 = cpuSeconds(server.pid)
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${serverOf(server.name).path ?? '/noop'}`,
    connections: 10,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  })
  if (result.non2xx > 0 || result['2xx'] === 0) throw new Error(`${server.name}: not all 200`)
  return ((cpuSeconds(server.pid) - cpu0) / result['2xx']) * 1e6
}

const servers: ServerProcess[] = []
try {
  for (const stack of STACKS) {
    const served = serverOf(stack)
    servers.push(
      await startNodeScript(
        stack,
        served.script,
        {
          STACK: stack,
          GATEHOUSE_ISSUER: TEST_ISSUER,
          GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
          GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
          // The bench origin's settings as bench:http gives them (its access log at info).
          GATEHOUSE_LOG_LEVEL: 'info',
          PORT: '0',
          ...served.env,
        },
        served.nodeFlags,
      ),
    )
  }
  const samples = new Map<string, number[]>(STACKS.map((s) => [s, []]))
  for (const server of servers) await slice(server, 1)
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers) samples.get(server.name)?.push(await slice(server, SLICE_SECONDS))
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  const bare = median(samples.get('bare') ?? [])
  console.log(
    renderTable(
      ['stack (/noop or /raw-noop, saturation)', 'CPU µs/request', 'spread', 'bare / this'],
      STACKS.map((s) => {
        const xs = samples.get(s) ?? []
        return [
          s,
          median(xs).toFixed(1),
          `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`,
          (bare / median(xs)).toFixed(2),
        ]
      }),
    ),
  )
} finally {
  for (const server of servers) await server.stop()
}
