/**
 * A redis-server the test owns and may kill: unlike the run's shared one (global-redis.ts), chaos tests
 * crash it (SIGKILL) and start it again on the same port and data directory. It runs with an
 * append-only file fsynced on every write (`appendfsync always`), the durability a managed Redis such
 * as Upstash gives: a write that was acknowledged survives the crash. Loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../scripts/dev-ports.ts'
import { waitForPong } from '../../scripts/lib/resp.ts'

export interface KillableRedis {
  readonly port: number
  readonly running: boolean
  /** Crash it: SIGKILL, no shutdown save. Resolves once the process is gone. */
  kill(): Promise<void>
  /** Start it again on the same port and directory; resolves once it answers PING (10 s deadline). */
  start(): Promise<void>
  /** Stop it and remove its directory. */
  close(): Promise<void>
}

const READY_DEADLINE_MS = 10_000

/**
 * @example
 * const redis = await startKillableRedis()
 * await redis.kill()
 * await redis.start() // same port, same data
 */
export async function startKillableRedis(): Promise<KillableRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-chaos-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  let exited: Promise<unknown> = Promise.resolve()
  let output = ''

  const start = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '']
    args.push('--appendonly', 'yes', '--appendfsync', 'always')
    const c = spawn(process.env.REDIS_SERVER ?? 'redis-server', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-2000))
    c.stdout?.on('data', keep)
    c.stderr?.on('data', keep)
    child = c
    exited = once(c, 'exit')
    try {
      await waitForPong(port, {
        deadlineMs: READY_DEADLINE_MS,
        exited: () => c.exitCode !== null || c.signalCode !== null,
      })
    } catch (e) {
      const exitedOnStart = e instanceof Error && e.message === 'exited'
      throw new Error(
        exitedOnStart
          ? `redis-server exited on start:\n${output}`
          : `redis-server not ready: ${String(e)}\n${output}`,
      )
    }
  }

  const kill = async (): Promise<void> => {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    c.kill('SIGKILL')
    await exited
  }

  await start()
  return {
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    kill,
    start,
    async close() {
      const c = child
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
