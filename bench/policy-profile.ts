/**
 * Where a gateway request with policy spends its CPU in workerd: the gateway of bench:policy
 * (bench/policy-gateway.ts) served with workerd's inspector, V8's sampling profiler started over
 * the DevTools protocol while autocannon drives load, self time summed per function.
 *
 *   node --experimental-strip-types bench/policy-profile.ts [plain|policy|per-id] [seconds]
 *
 * `policy`: the bench's 100 policies (no policy names a resource id, so decisions are L1 hits after
 * the first per route); `per-id`: each forbid also names one id, so every decision is uncached.
 *
 * Writes bench/.work/policy/gateway-<mode>.cpuprofile (open it in Chrome DevTools) and prints the
 * top functions by self time, and the share of samples under the policy code.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startDevRedis } from '../scripts/dev-redis.ts'
import { freePort, startNodeScript } from './lib/http-process.ts'
import { measureSlice, summarise, warmUp } from './lib/http-load.ts'
import {
  benchRouteTable,
  gatewayToken,
  gatewayVars,
  newIdPaths,
  publishBenchSet,
} from './policy-gateway.ts'
import { WORK, bundleWorker, serveBundle } from './policy-workerd.ts'

const ROOT = new URL('..', import.meta.url).pathname
const MODES = ['plain', 'policy', 'per-id'] as const
const mode = MODES.find((m) => m === process.argv[2]) ?? 'policy'
const seconds = Number(process.argv[3] ?? 5)

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

async function inspect(port: number) {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    webSocketDebuggerUrl: string
  }[]
  const target = list[0]?.webSocketDebuggerUrl
  if (!target) throw new Error('workerd inspector lists no target')
  const ws = new WebSocket(target)
  await new Promise((resolve, reject) => {
    ws.onopen = resolve
    ws.onerror = reject
  })
  let next = 1
  const waiting = new Map<number, (result: unknown) => void>()
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown }
    if (message.id !== undefined) waiting.get(message.id)?.(message.result)
  }
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = next++
      waiting.set(id, resolve)
      ws.send(JSON.stringify({ id, method, params }))
    })
  return { send, close: () => ws.close() }
}

const redis = await startDevRedis({ cwd: ROOT, log: () => {} })
if (!redis) throw new Error('needs redis-server')
const stoppers: (() => Promise<void>)[] = [() => redis.stop()]
try {
  await publishBenchSet(redis, 'default', { perId: mode === 'per-id' })
  const upstream = await startNodeScript('upstream', 'bench/lib/http-upstream.ts', {})
  stoppers.push(() => upstream.stop())
  const bundle = await bundleWorker('edge-cedar', 'src/entry/worker-cedar.ts', '2026-11-01')
  const inspectorPort = await freePort()
  const server = await serveBundle(bundle, {
    compatibilityDate: '2026-11-01',
    vars: {
      ...gatewayVars(redis, upstream.port),
      ...(process.env.LOG_LEVEL ? { GATEHOUSE_LOG_LEVEL: process.env.LOG_LEVEL } : {}),
      ...(mode === 'plain'
        ? {}
        : { GATEHOUSE_POLICY_ROUTES: JSON.stringify({ routes: benchRouteTable() }) }),
    },
    readyPath: '/healthz',
    name: `profile-${mode}`,
    args: [`--inspector-addr=127.0.0.1:${inspectorPort}`],
  })
  stoppers.push(() => server.stop())
  const token = gatewayToken()
  const path = newIdPaths()
  const load = { origin: server.url, path, token, connections: 10, pid: server.child.pid as number }
  await warmUp(load, 2)
  const inspector = await inspect(inspectorPort)
  await inspector.send('Profiler.enable')
  await inspector.send('Profiler.setSamplingInterval', { interval: 100 })
  await inspector.send('Profiler.start')
  const result = summarise([await measureSlice(load, seconds)])
  const { profile } = (await inspector.send('Profiler.stop')) as { profile: Profile }
  inspector.close()
  writeFileSync(join(WORK, `gateway-${mode}.cpuprofile`), JSON.stringify(profile))
  console.log(
    `${mode}: ${result.requestsPerSec.toFixed(0)} req/s, server CPU ${(result.serverCpu * 100).toFixed(0)}%, ` +
      `${((result.serverCpu / result.requestsPerSec) * 1e6).toFixed(0)} µs CPU/request`,
  )
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id) as ProfileNode
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    const f = node.callFrame
    const name = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`
    self.set(name, (self.get(name) ?? 0) + dt)
  })
  // Inclusive time of frames whose function name matches a few of ours.
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id)
  const inclusive = new Map<string, number>()
  const watch = (process.env.WATCH ?? 'authorizeMiddleware,decide,statefulIsAuthorized').split(',')
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)?.callFrame.functionName ?? ''
      if (watch.includes(name) && !seen.has(name)) {
        seen.add(name)
        inclusive.set(name, (inclusive.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0))
      }
    }
  })
  const requests = result.requests
  console.log(`profile: ${(total / 1000).toFixed(0)} ms sampled over ${requests} requests`)
  for (const [name, t] of inclusive)
    console.log(`  inclusive ${name}: ${(t / requests).toFixed(1)} µs/request`)
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${(t / requests).toFixed(1).padStart(7)} µs/req  ${name}`)
  }
} finally {
  for (const stop of stoppers.reverse()) await stop().catch(() => undefined)
}
