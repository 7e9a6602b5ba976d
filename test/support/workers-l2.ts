/**
 * vitest globalSetup for the workers project (test/workers): a real redis-server behind the Upstash
 * REST bridge, so the Worker inside workerd reads a real L2 over fetch, and a URL where no origin
 * listens (test/workers/global-jwks.ts serves a live origin's JWKS). Faults between the Worker and
 * L2 are the chaos harness's (test/support/edge-worker.ts).
 */
import type { TestProject } from 'vitest/node'
import { startUpstashBridge } from '../../scripts/upstash-bridge.ts'
import { freePort } from '../../scripts/dev-ports.ts'
// redis-process.ts, not redis.ts: a globalSetup may not import 'vitest' (redis.ts does, for inject).
import { startKillableRedis } from './redis-process.ts'

/** What the workers tests receive through `inject('workersL2')` (test/workers/provided.d.ts). */
export interface WorkersL2 {
  url: string
  token: string
  /** Nothing listens here: the origin is down. */
  deadOriginUrl: string
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startKillableRedis()
  const token = `workers-${crypto.randomUUID()}`
  const bridge = await startUpstashBridge({ redisPort: redis.port, token })
  const provided: WorkersL2 = {
    url: bridge.url,
    token,
    // A port nothing listens on: the origin is down.
    deadOriginUrl: `http://127.0.0.1:${await freePort()}`,
  }
  ;(project.provide as (key: string, value: unknown) => void)('workersL2', provided)
  return async () => {
    await bridge.close()
    await redis.close()
  }
}
