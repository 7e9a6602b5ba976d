import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inject } from 'vitest'
import { startUpstashBridge } from '../../scripts/upstash-bridge.ts'
import { freePort } from '../../scripts/dev-ports.ts'
import { waitForPong } from '../../scripts/lib/resp.ts'
import { createUpstashStore } from '../../src/store/upstash.ts'

/**
 * Real redis-server for integration tests: a throwaway instance on a free loopback port in a temp
 * dir, no persistence. Plus the Upstash REST bridge in front of it, so tests run the production
 * adapter against real Redis. No mocks of Redis anywhere.
 */

export interface RedisServer {
  host: string
  port: number
  close(): Promise<void>
}

export interface RedisWithBridge {
  redisPort: number
  url: string
  token: string
  /** With replica lag on: hold the replica behind at will. */
  replicaLink?: { hold(): void; release(): void }
  close(): Promise<void>
}

const READY_DEADLINE_MS = 10_000

/**
 * Start redis-server (`REDIS_SERVER` or `redis-server` on PATH) and resolve once it answers PING.
 *
 * @example
 * const redis = await startRedisServer()
 * afterAll(() => redis.close())
 */
export async function startRedisServer(): Promise<RedisServer> {
  let lastError: unknown
  // A free port can be taken between our probe and redis binding it: retry with a new one.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(await freePort())
    } catch (e) {
      lastError = e
    }
  }
  throw lastError
}

async function startOnce(port: number): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'))
  const binary = process.env.REDIS_SERVER ?? 'redis-server'
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn(binary, [...args, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-2000))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = once(child, 'exit')
  const close = async (): Promise<void> => {
    await stop(child, exited)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitForPong(port, {
      deadlineMs: READY_DEADLINE_MS,
      exited: () => child.exitCode !== null || child.signalCode !== null,
    })
  } catch (e) {
    await close()
    throw new Error(`redis-server did not start on port ${port}: ${String(e)}\n${output}`)
  }
  return { host: '127.0.0.1', port, close }
}

async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await exited
}

/**
 * redis-server plus the Upstash bridge in front of it, with a random token; with `replicaLagMs`, the
 * bridge serves reads from a replica that lags by that much (Upstash's read replicas).
 *
 * @example
 * const env = await startRedisWithBridge({ replicaLagMs: 100 })
 * const store = createUpstashStore({ url: env.url, token: env.token })
 */
export async function startRedisWithBridge(
  options: { replicaLagMs?: number } = {},
): Promise<RedisWithBridge> {
  const redis = await startRedisServer()
  const token = `test-${crypto.randomUUID()}`
  try {
    const bridge = await startUpstashBridge({
      redisPort: redis.port,
      token,
      ...(options.replicaLagMs ? { replicaLagMs: options.replicaLagMs } : {}),
    })
    return {
      redisPort: redis.port,
      url: bridge.url,
      token,
      ...(bridge.replicaLink ? { replicaLink: bridge.replicaLink } : {}),
      async close() {
        await bridge.close()
        await redis.close()
      },
    }
  } catch (e) {
    await redis.close()
    throw e
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by test/support/global-redis.ts when it is a globalSetup: one redis + bridge per run. */
    upstashBridge?: { redisPort: number; url: string; token: string }
    /** Set by `npm run test:upstash` (test/integration/upstash.vitest.config.ts): a real database. */
    realUpstash?: { url: string; token: string }
  }
}

/** Under `npm run test:upstash`: the real Upstash database, which this run must not close. */
function realUpstash(): RedisWithBridge | undefined {
  const real = inject('realUpstash')
  return real && { redisPort: 0, url: real.url, token: real.token, close: async () => {} }
}

/**
 * What the L2 tests that matter on production run against: the real Upstash database under
 * `npm run test:upstash`, else this file's own redis + bridge with reads served by a replica
 * `replicaLagMs` behind the primary (Upstash's read replicas).
 *
 * @example
 * beforeAll(async () => { env = await useLaggingL2(100) })
 */
export async function useLaggingL2(replicaLagMs: number): Promise<RedisWithBridge> {
  return realUpstash() ?? startRedisWithBridge({ replicaLagMs })
}

/**
 * Deletes every key under the given prefixes (with a store that adds no prefix of its own): tests
 * that may run against a real database leave nothing behind.
 *
 * @example afterAll(() => deleteKeysUnder(env, prefixes))
 */
export async function deleteKeysUnder(
  env: Pick<RedisWithBridge, 'url' | 'token'>,
  prefixes: readonly string[],
): Promise<void> {
  const store = createUpstashStore({ url: env.url, token: env.token, keyPrefix: '' })
  for (const prefix of prefixes) {
    let cursor = '0'
    do {
      const page = await store.scanKeys(prefix, cursor, 1000)
      if (page.keys.length > 0) await store.delete(...page.keys)
      cursor = page.cursor
    } while (cursor !== '0')
  }
}

/**
 * The run's shared redis + bridge when global-redis.ts is configured as a globalSetup, else a fresh
 * pair for this file (close() then stops it). Tests isolate themselves with unique key prefixes.
 * Under `npm run test:upstash`, the real database.
 *
 * @example
 * let env: RedisWithBridge
 * beforeAll(async () => { env = await useRedisWithBridge() })
 * afterAll(() => env.close())
 */
export async function useRedisWithBridge(): Promise<RedisWithBridge> {
  const real = realUpstash()
  if (real) return real
  const shared = inject('upstashBridge')
  if (shared) return { ...shared, close: async () => {} }
  return startRedisWithBridge()
}
