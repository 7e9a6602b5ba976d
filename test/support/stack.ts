/**
 * The whole Gatehouse stack as real processes on loopback, wired through fault-injecting TCP proxies:
 *
 *   client → edge (workerd) ─(originProxy)→ origin process → Upstash bridge ─(redisProxy)→ redis-server
 *                  └─────────(edgeL2Proxy)──────────────→ Upstash bridge
 *                             (key set, revocation sync, hit confirmations)
 *
 * The edge is the Worker itself (src/entry/worker.ts) in `workerd serve` (edge-worker.ts); the origin
 * is the built `dist/entry/node.js` with GATEHOUSE_CONFIG exactly as the image and `npm start` run it
 * (node-process.ts); the bridge runs in the test process; redis-server is this stack's own
 * (killable, AOF with fsync on every write). The edge reads the key set the origin publishes in L2
 * (the origin's JWKS, through originProxy, only while L2 has none), so L2 faults also test the keys
 * an isolate holds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startUpstashBridge, type UpstashBridge } from '../../scripts/upstash-bridge.ts'
import type { OAuthConfigInput } from '../../src/core/oauth/config.ts'
import { API, ISSUER, testConfig } from '../unit/oauth/support.ts'
import { startEdgeWorker, type EdgeWorker } from './edge-worker.ts'
import { startOriginProcess, type NodeProcess } from './node-process.ts'
import { startKillableRedis, type KillableRedis } from './redis-process.ts'
import { clientCredentials, SETUP_DEADLINE_MS } from './oauth-http.ts'
import { until } from './poll.ts'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

/**
 * Edge → origin deadline (the production default: a shorter one turns a slow answer on a busy
 * machine into a 503), breaker threshold and open time used by the stack (edge env).
 */
export const EDGE_ORIGIN_TIMEOUT_MS = 5000
export const EDGE_FAILURE_THRESHOLD = 3
export const EDGE_OPEN_SECONDS = 1
/** Edge revocation bound: sync every 2 s + 1 s timeout (GATEHOUSE_REVOCATION_* defaults). */
export const REVOCATION_BOUND_MS = 3000

export interface StackOptions {
  /** Extra bindings for the Worker / env for the origin process (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
  edgeEnv?: Record<string, string>
  originEnv?: Record<string, string>
  /** Node flags for the origin process. */
  originNodeArgs?: string[]
  config?: Partial<OAuthConfigInput>
}

export interface Stack {
  /** The Worker in workerd; `edge.restart()` gives a cold isolate on the same URL. */
  readonly edge: EdgeWorker
  readonly origin: NodeProcess
  readonly redis: KillableRedis
  readonly bridge: UpstashBridge
  /** Edge ↔ origin: minting routes (and the JWKS fallback while L2 has no key set). */
  readonly originProxy: TcpProxy
  /** Edge ↔ bridge: the Worker's own L2 calls (key set, revocation sync, hit confirmations). */
  readonly edgeL2Proxy: TcpProxy
  /** Bridge ↔ redis-server: every L2 call of edge and origin crosses it. */
  readonly redisProxy: TcpProxy
  /** SIGKILL the origin. */
  killOrigin(): Promise<void>
  /** Start a new origin process (new port), wait until it is ready and point the edge's proxy at it. */
  startOrigin(): Promise<void>
  close(): Promise<void>
}

/** Deadline for an origin to become ready and mint its first token: a hang guard only. */
const ORIGIN_READY_TIMEOUT_MS = 120_000

/**
 * As a readiness-gated rollout would: the edge sends an origin traffic only once its /readyz passes
 * and it has minted one token (a cold process's first requests are its slowest, and the edge's
 * deadline is real), so a busy machine cannot turn set-up or a restart into a timed-out answer.
 */
async function readyAndWarm(origin: NodeProcess): Promise<void> {
  await until(
    async () => (await fetch(`${origin.url}/readyz`).catch(() => undefined))?.status === 200,
    ORIGIN_READY_TIMEOUT_MS,
    `origin ${origin.url} ready`,
  )
  await until(
    async () => (await clientCredentials(origin.url, SETUP_DEADLINE_MS)).outcome.status === 200,
    ORIGIN_READY_TIMEOUT_MS,
    `origin ${origin.url} minted a token`,
  )
}

/**
 * @example
 * const stack = await startStack()
 * await fetch(`${stack.edge.url}/verify`, { headers: { authorization: `Bearer ${token}` } })
 * await stack.close()
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const cleanup: (() => Promise<unknown>)[] = []
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-stack-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  try {
    const configPath = join(dir, 'gatehouse.json')
    await writeFile(configPath, JSON.stringify(await testConfig(options.config)))
    const redis = await startKillableRedis()
    cleanup.push(() => redis.close())
    const redisProxy = await startTcpProxy({ targetPort: redis.port })
    cleanup.push(() => redisProxy.close())
    const token = `stack-${crypto.randomUUID()}`
    const bridge = await startUpstashBridge({ redisPort: redisProxy.port, token })
    cleanup.push(() => bridge.close())

    const originEnv = {
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_ISSUER: ISSUER,
      GATEHOUSE_AUDIENCE: API,
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: token,
      ...options.originEnv,
    }
    const originArgs = options.originNodeArgs ? { nodeArgs: options.originNodeArgs } : {}
    let origin = await startOriginProcess(originEnv, originArgs)
    cleanup.push(() => origin.kill())
    await readyAndWarm(origin)

    const edge = await startEdgeWorker({
      issuer: ISSUER,
      audience: API,
      originUrl: origin.url,
      l2: { url: bridge.url, token },
      vars: {
        GATEHOUSE_ORIGIN_TIMEOUT_MS: String(EDGE_ORIGIN_TIMEOUT_MS),
        GATEHOUSE_ORIGIN_FAILURE_THRESHOLD: String(EDGE_FAILURE_THRESHOLD),
        GATEHOUSE_ORIGIN_OPEN_SECONDS: String(EDGE_OPEN_SECONDS),
        ...options.edgeEnv,
      },
    })
    cleanup.push(() => edge.close())

    return {
      edge,
      get origin() {
        return origin
      },
      redis,
      bridge,
      originProxy: edge.originProxy,
      edgeL2Proxy: edge.l2Proxy,
      redisProxy,
      killOrigin: () => origin.kill(),
      async startOrigin() {
        const next = await startOriginProcess(originEnv, originArgs)
        await readyAndWarm(next)
        origin = next
        edge.originProxy.setTarget(origin.port)
      },
      async close() {
        for (const step of cleanup.reverse()) await step().catch(() => {})
      },
    }
  } catch (e) {
    for (const step of cleanup.reverse()) await step().catch(() => {})
    throw e
  }
}
