import type { TestProject } from 'vitest/node'
import { startRedisWithBridge } from './redis.ts'

/**
 * vitest globalSetup: one redis-server + Upstash bridge for the whole run, handed to test files via
 * `inject('upstashBridge')` (see `useRedisWithBridge`). Without it each integration file starts its own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = await startRedisWithBridge()
  project.provide('upstashBridge', { redisPort: env.redisPort, url: env.url, token: env.token })
  return () => env.close()
}
