/**
 * Redis for `npm run dev`: a throwaway `redis-server` on a free loopback port (no persistence) with the
 * Upstash REST bridge in front, so the origin runs the production store adapter. When redis-server is
 * not installed it resolves `undefined` and the caller falls back to the memory store, loudly.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startUpstashBridge } from './upstash-bridge.ts'
import { waitForPong } from './lib/resp.ts'
import { freePort } from './dev-ports.ts'
import { startChild, type LogLine } from './dev-processes.ts'

export interface DevRedis {
  redisPort: number
  url: string
  token: string
  stop(): Promise<void>
}

/**
 * @example const redis = await startDevRedis({ cwd, log }) // undefined: no redis-server installed
 */
export async function startDevRedis(options: {
  cwd: string
  log: LogLine
}): Promise<DevRedis | undefined> {
  const binary = process.env.REDIS_SERVER ?? 'redis-server'
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-dev-redis-'))
  const port = await freePort()
  const child = startChild(
    'redis',
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { cwd: options.cwd, env: process.env, log: () => {} },
  )
  const missing = await new Promise<boolean>((resolve) => {
    child.process.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT'))
    child.process.once('spawn', () => resolve(false))
  })
  const cleanup = async (): Promise<void> => {
    await child.stop()
    await rm(dir, { recursive: true, force: true })
  }
  if (missing) {
    await rm(dir, { recursive: true, force: true })
    return undefined
  }
  try {
    try {
      await waitForPong(port, { deadlineMs: 10_000 })
    } catch (e) {
      throw new Error(`redis-server did not answer on ${port}`, { cause: e })
    }
    const token = randomBytes(24).toString('base64url')
    const bridge = await startUpstashBridge({ redisPort: port, token })
    options.log('redis', `redis-server on 127.0.0.1:${port}, Upstash REST bridge on ${bridge.url}`)
    return {
      redisPort: port,
      url: bridge.url,
      token,
      async stop() {
        await bridge.close()
        await cleanup()
      },
    }
  } catch (e) {
    await cleanup()
    throw e
  }
}
