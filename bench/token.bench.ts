/**
 * `npm run bench:token`: `/token` with the client_credentials grant, Gatehouse's origin against
 * node-oidc-provider issuing the same kind of token (an RFC 9068 `at+jwt`, ES256, same key, same
 * scope and audience), in one run on this machine (DESIGN.md target: ≥ 3× the requests/s).
 *
 * Each server runs in its own process (started the way it is deployed: Gatehouse as the image and
 * `npm start` do, `node dist/entry/node.js` built from src/ at the start of the run
 * (bench/lib/built-origin.ts), with a GATEHOUSE_CONFIG file); the load generator
 * (autocannon, fixed connections, POST with HTTP Basic client authentication) runs here. Before timing,
 * one token from every server is decoded and its ES256 signature verified against that server's JWKS.
 * Each measured run follows a 2 s warm-up whose numbers are dropped; rows run interleaved in rounds so
 * load from other processes on this shared machine hits all rows alike: node-oidc-provider in the
 * middle of every round, the Gatehouse rows on either side of it, swapping sides each round
 * (`roundOrder`). The ratios to
 * node-oidc-provider are the median over rounds of each round's own ratio (the peer and Gatehouse
 * measured back to back, under the same neighbours' load), not a ratio of medians taken from rounds
 * minutes apart. The rows show the round with the median
 * requests/s is reported. Latencies are taken from autocannon's per-response event (fractional ms; its
 * histogram has a 1 ms floor).
 *
 * Gatehouse runs twice: with the memory store, and with the production Upstash adapter against a real
 * redis-server through the Upstash REST bridge. (client_credentials reads nothing from the store, so
 * the two should match; the second row shows it.)
 *
 * Flags: --duration <s> (6), --connections <n> (10), --rounds <n> (5), --no-redis.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { hashClientSecret } from '../src/core/oauth/clients.ts'
import { privateJwks } from '../test/fixtures/keys.ts'
import { freePort } from '../scripts/dev-ports.ts'
import { originNodeOptions } from '../scripts/origin-app-dir.ts'
import { builtOriginApp } from './lib/built-origin.ts'
import { describeMachine } from './lib/machine.ts'
import { renderTable } from './lib/table.ts'
import { OP_AUDIENCE, OP_CLIENT_ID, OP_CLIENT_SECRET } from './lib/token-oidc-provider.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RESULTS = new URL('./results/token.json', import.meta.url)
const CLIENT_ID = 'bench-service'
const CLIENT_SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz-gh'
const AUDIENCE = OP_AUDIENCE
const BODY = 'grant_type=client_credentials&scope=read'
const WARMUP_SECONDS = 2

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '5' },
    'no-redis': { type: 'boolean', default: false },
  },
})
const DURATION = Number(flags.duration)
const CONNECTIONS = Number(flags.connections)
const ROUNDS = Number(flags.rounds)

interface Target {
  id: string
  name: string
  group: 'ours' | 'peer'
  url: string
  authorization: string
  /** What was started. */
  entry: string
  process: ChildProcess
}

interface Run {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
  /** Cores the server process used over the run: well below 1 means the load generator was the limit. */
  serverCores: number
  /** Server CPU time per answered request: comparable even when the client or a neighbour limits req/s. */
  cpuUsPerRequest: number
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15, 100 Hz ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const children: ChildProcess[] = []
const cleanups: (() => void)[] = []
const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
  for (const cleanup of cleanups) cleanup()
}
process.once('exit', stopAll)
process.once('SIGINT', () => process.exit(130))

/** Spawns a process, keeping the tail of its output for error messages (and draining the pipes). */
function start(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4000))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return { child, output: () => output }
}

const nodeScript = (file: string, env: Record<string, string>, args: string[] = []) =>
  start(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings=ExperimentalWarning', file, ...args],
    env,
  )

async function waitFor(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited\n${output()}`)
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      return
    } catch {
      if (Date.now() > deadline) throw new Error(`${url}: no answer in 30 s\n${output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

async function requestToken(target: Pick<Target, 'url' | 'authorization'>): Promise<Response> {
  return fetch(`${target.url}/token`, {
    method: 'POST',
    headers: {
      Authorization: target.authorization,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: BODY,
  })
}

/** Decodes and verifies one token: ES256, typ at+jwt, the expected audience, scope and client. */
async function checkToken(target: Target): Promise<Record<string, unknown>> {
  const res = await requestToken(target)
  const body = (await res.json()) as { access_token?: string; token_type?: string }
  if (res.status !== 200 || typeof body.access_token !== 'string')
    throw new Error(`${target.name}: /token answered ${res.status} ${JSON.stringify(body)}`)
  const header = decodeProtectedHeader(body.access_token)
  // The JWKS the server itself advertises in its discovery document.
  const discovery = (await (
    await fetch(`${target.url}/.well-known/openid-configuration`)
  ).json()) as { jwks_uri: string }
  const jwks = await (await fetch(discovery.jwks_uri)).json()
  const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), {
    algorithms: ['ES256'],
    typ: 'at+jwt',
    audience: AUDIENCE,
  })
  if (header.alg !== 'ES256' || payload.scope !== 'read' || payload.client_id !== CLIENT_ID)
    throw new Error(`${target.name}: unexpected token ${JSON.stringify({ header, payload })}`)
  return { header, payload, tokenBytes: body.access_token.length }
}

async function load(target: Target, seconds: number): Promise<Run> {
  const latencies: number[] = []
  const pid = target.process.pid ?? 0
  const cpuBefore = cpuSeconds(pid)
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${target.url}/token`,
        method: 'POST',
        headers: {
          authorization: target.authorization,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: BODY,
        connections: CONNECTIONS,
        duration: seconds,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    )
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime)
    })
  })
  const cpu = cpuSeconds(pid) - cpuBefore
  latencies.sort((a, b) => a - b)
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN
  return {
    requestsPerSec: result.requests.total / result.duration,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    serverCores: cpu / result.duration,
    cpuUsPerRequest: (cpu / Math.max(1, result.requests.total)) * 1e6,
  }
}

async function startOidcProvider(): Promise<Target> {
  const port = await freePort()
  const { child, output } = nodeScript('bench/lib/token-oidc-provider.ts', {}, [String(port)])
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/.well-known/openid-configuration`, child, output)
  return {
    id: 'oidc-provider',
    name: 'node-oidc-provider 9 (memory adapter)',
    group: 'peer',
    url,
    authorization: basic(OP_CLIENT_ID, OP_CLIENT_SECRET),
    entry: 'bench/lib/token-oidc-provider.ts',
    process: child,
  }
}

async function startGatehouse(
  id: string,
  label: string,
  configPath: string,
  storeEnv: Record<string, string>,
): Promise<Target> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // What the image and `npm start` run, configured the way docs/architecture.md's contract says
  // (PORT, GATEHOUSE_CONFIG, ...).
  const { child, output } = start(
    process.execPath,
    [...originNodeOptions(), builtOriginApp().entry],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_ISSUER: url,
      GATEHOUSE_AUDIENCE: AUDIENCE,
      // Access logs off: oidc-provider writes none either.
      GATEHOUSE_LOG_LEVEL: 'warn',
      ...storeEnv,
    },
  )
  await waitFor(`${url}/healthz`, child, output)
  return {
    id,
    name: `Gatehouse origin (${label})`,
    group: 'ours',
    url,
    authorization: basic(CLIENT_ID, CLIENT_SECRET),
    entry: 'dist/entry/node.js (npm start)',
    process: child,
  }
}

async function startRedisBridge(): Promise<Record<string, string>> {
  const redisPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-redis-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const redis = start(
    process.env.REDIS_SERVER ?? 'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    {},
  )
  const bridgePort = await freePort()
  const token = `bench-${crypto.randomUUID()}`
  // The bridge stands in for Upstash: its own process, like the real service is off-box.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const bridge = nodeScript('scripts/upstash-bridge.ts', {}, [
    '--redis-port',
    String(redisPort),
    '--port',
    String(bridgePort),
    '--token',
    token,
  ])
  const url = `http://127.0.0.1:${bridgePort}`
  await waitFor(url, bridge.child, () => `${bridge.output()}\n${redis.output()}`)
  return { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token }
}

/**
 * The order of one round: node-oidc-provider in the middle, next to every Gatehouse row, and the
 * Gatehouse rows swapping sides from round to round. Each row's ratio is taken against the peer run
 * of its own round, so every row must stand equally near it: with a fixed order (peer, memory,
 * Upstash) the Upstash row always ran 8 s after the peer's, further from the load it was compared
 * under, and always last.
 *
 * @example roundOrder([peer, memory, upstash], 1) // [memory, peer, upstash]; round 2: [upstash, peer, memory]
 */
function roundOrder<T extends { group: 'ours' | 'peer' }>(targets: T[], round: number): T[] {
  const peers = targets.filter((t) => t.group === 'peer')
  const ours = targets.filter((t) => t.group === 'ours')
  if (round % 2 === 0) ours.reverse()
  const at = round % 2 === 0 ? Math.floor(ours.length / 2) : Math.ceil(ours.length / 2)
  return [...ours.slice(0, at), ...peers, ...ours.slice(at)]
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a')

async function main() {
  const machine = describeMachine()
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-token-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const configPath = join(dir, 'gatehouse.json')
  writeFileSync(
    configPath,
    JSON.stringify({
      issuer: 'http://127.0.0.1',
      keys: [{ ...privateJwks.ES256, status: 'active' }],
      clients: [
        {
          id: CLIENT_ID,
          type: 'confidential',
          secretHash: await hashClientSecret(CLIENT_SECRET),
          tokenEndpointAuthMethod: 'client_secret_basic',
          grantTypes: ['client_credentials'],
          scopes: ['read', 'write'],
          audiences: [AUDIENCE],
          defaultAudience: AUDIENCE,
        },
      ],
    }),
  )

  const targets: Target[] = [await startOidcProvider()]
  targets.push(await startGatehouse('gatehouse-memory', 'memory store', configPath, {}))
  if (!flags['no-redis']) {
    const storeEnv = await startRedisBridge()
    targets.push(
      await startGatehouse(
        'gatehouse-redis',
        'Upstash adapter → bridge → redis-server',
        configPath,
        storeEnv,
      ),
    )
  }

  const tokens: Record<string, unknown> = {}
  for (const target of targets) {
    tokens[target.id] = await checkToken(target)
    console.log(`checked ${target.name}: ES256 at+jwt verified against its JWKS`)
  }

  const runs = new Map<string, Run[]>(targets.map((t) => [t.id, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of roundOrder(targets, round)) {
      await load(target, WARMUP_SECONDS)
      const run = await load(target, DURATION)
      runs.get(target.id)?.push(run)
      console.log(
        `round ${round}/${ROUNDS} ${target.name}: ${Math.round(run.requestsPerSec)} req/s, p99 ${fmt(run.p99Ms)} ms`,
      )
    }
  }

  const median = (id: string): Run => {
    const sorted = [...(runs.get(id) ?? [])].sort((a, b) => a.requestsPerSec - b.requestsPerSec)
    const run = sorted[Math.floor((sorted.length - 1) / 2)]
    if (!run) throw new Error(`no runs for ${id}`)
    return run
  }
  const peerRuns = runs.get('oidc-provider') ?? []
  /** The median over rounds of `value(ours, peer)` for the same round. */
  const perRound = (id: string, value: (ours: Run, peer: Run) => number): number => {
    const values = (runs.get(id) ?? []).map((run, i) => value(run, peerRuns[i] as Run))
    values.sort((a, b) => a - b)
    return values[Math.floor((values.length - 1) / 2)] ?? NaN
  }
  const rows = targets.map((t) => {
    const run = median(t.id)
    return {
      id: t.id,
      name: t.name,
      group: t.group,
      entry: t.entry,
      ...run,
      requestsPerSec: Math.round(run.requestsPerSec),
      p50Ms: Number(fmt(run.p50Ms, 3)),
      p99Ms: Number(fmt(run.p99Ms, 3)),
      serverCores: Number(run.serverCores.toFixed(2)),
      cpuUsPerRequest: Math.round(run.cpuUsPerRequest),
      vsOidcProvider: Number(
        perRound(t.id, (ours, peer) => ours.requestsPerSec / peer.requestsPerSec).toFixed(2),
      ),
      cpuVsOidcProvider: Number(
        perRound(t.id, (ours, peer) => peer.cpuUsPerRequest / ours.cpuUsPerRequest).toFixed(2),
      ),
      rounds: runs.get(t.id)?.map((r) => Math.round(r.requestsPerSec)),
      roundRatios: runs
        .get(t.id)
        ?.map((r, i) =>
          Number((r.requestsPerSec / (peerRuns[i] as Run).requestsPerSec).toFixed(2)),
        ),
    }
  })

  console.log(
    `\n/token client_credentials, ES256 JWT access tokens — ${CONNECTIONS} connections, ${DURATION} s per run after a ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds; ratios are medians of per-round ratios`,
  )
  console.log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}\n`)
  console.log(
    renderTable(
      [
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'non-2xx',
        'server CPU',
        'CPU µs/req',
        'req/s vs peer',
        'CPU/req vs peer',
      ],
      rows.map((r) => [
        r.name,
        r.requestsPerSec.toLocaleString('en-US'),
        fmt(r.p50Ms),
        fmt(r.p99Ms),
        String(r.errors + r.timeouts),
        String(r.non2xx),
        `${r.serverCores.toFixed(2)} cores`,
        String(r.cpuUsPerRequest),
        `${r.vsOidcProvider.toFixed(2)}×`,
        `${r.cpuVsOidcProvider.toFixed(2)}×`,
      ]),
    ),
  )
  for (const r of rows.filter((row) => row.group === 'ours'))
    console.log(`${r.name}: per-round req/s vs peer ${r.roundRatios?.join(' / ')}`)
  const ours = rows.find((r) => r.id === 'gatehouse-memory')
  if (ours) {
    const verdict = ours.vsOidcProvider >= 3 ? 'met' : 'NOT met'
    console.log(
      `\ntarget ≥ 3× node-oidc-provider requests/s: ${verdict} (${ours.vsOidcProvider.toFixed(2)}×; server CPU per request ${ours.cpuVsOidcProvider.toFixed(2)}× less)`,
    )
  }
  const bad = rows.filter((r) => r.errors + r.timeouts + r.non2xx > 0)
  if (bad.length > 0) console.log(`WARNING: failed requests in ${bad.map((r) => r.id).join(', ')}`)

  // What `npm run bench` (bench/run-all.ts) shows: issue 15 asks ≥ 3× with either store.
  const summary = rows.map((r) =>
    r.group === 'peer'
      ? { name: `${r.name}, req/s`, value: r.requestsPerSec }
      : {
          name: `${r.name} / node-oidc-provider, req/s (${r.requestsPerSec.toLocaleString('en-US')})`,
          value: r.vsOidcProvider,
          target: '>= 3',
          met: r.vsOidcProvider >= 3,
        },
  )

  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  writeFileSync(
    RESULTS,
    `${JSON.stringify(
      {
        benchmark: 'token',
        runAt: new Date().toISOString(),
        machine,
        settings: {
          grant: 'client_credentials',
          clientAuthentication: 'client_secret_basic',
          tokenFormat: 'RFC 9068 at+jwt, ES256 (same key for both)',
          connections: CONNECTIONS,
          durationSeconds: DURATION,
          warmupSeconds: WARMUP_SECONDS,
          rounds: ROUNDS,
          reported:
            'rows: the round with the median requests/s; ratios: the median of the per-round ratios',
          loadGenerator: 'autocannon (same process for every row), loopback',
        },
        tokens,
        summary,
        rows,
      },
      null,
      2,
    )}\n`,
  )
  console.log(`\nwrote ${fileURLToPath(RESULTS)}`)
}

try {
  await main()
  stopAll()
  process.exit(0)
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  stopAll()
  process.exit(1)
}
