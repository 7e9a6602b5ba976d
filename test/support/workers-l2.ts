/**
 * vitest globalSetup for the workers project (test/workers): a real redis-server behind the Upstash REST bridge,
 * with a fault proxy between them, so the Worker inside workerd reads a real L2 over fetch. Tests
 * switch the proxy through a small control endpoint (`POST <controlUrl>/l2/<mode>`), and get a URL
 * where no origin listens (test/workers/global-jwks.ts serves a live origin's JWKS).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'
import { startUpstashBridge } from '../../scripts/upstash-bridge.ts'
import { freePort } from '../../scripts/dev-ports.ts'
// redis-process.ts, not redis.ts: a globalSetup may not import 'vitest' (redis.ts does, for inject).
import { startKillableRedis } from './redis-process.ts'
import { startTcpProxy, type TcpProxyMode } from './tcp-proxy.ts'

/** What the workers tests receive through `inject('workersL2')` (test/workers/provided.d.ts). */
export interface WorkersL2 {
  url: string
  token: string
  controlUrl: string
  /** Nothing listens here: the origin is down. */
  deadOriginUrl: string
}

const MODES: readonly TcpProxyMode[] = ['pass', 'refuse', 'reset', 'blackhole']

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startKillableRedis()
  const proxy = await startTcpProxy({ targetPort: redis.port })
  const token = `workers-${crypto.randomUUID()}`
  const bridge = await startUpstashBridge({ redisPort: proxy.port, token })
  const control = createServer((req, res) => {
    const mode = /^\/l2\/(\w+)$/.exec(req.url ?? '')?.[1] as TcpProxyMode | undefined
    if (req.method !== 'POST' || !mode || !MODES.includes(mode)) {
      res.writeHead(404).end()
      return
    }
    void proxy
      .setMode(mode)
      .then(() => proxy.resetConnections())
      .then(() => res.writeHead(204).end())
  })
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve))
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`
  const provided: WorkersL2 = {
    url: bridge.url,
    token,
    controlUrl,
    // A port nothing listens on: the origin is down.
    deadOriginUrl: `http://127.0.0.1:${await freePort()}`,
  }
  ;(project.provide as (key: string, value: unknown) => void)('workersL2', provided)
  return async () => {
    await new Promise<void>((resolve) => control.close(() => resolve()))
    await bridge.close()
    await proxy.close()
    await redis.close()
  }
}
