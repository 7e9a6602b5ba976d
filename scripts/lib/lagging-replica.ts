import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../dev-ports.ts'
import { startDelayPipe, type DelayPipe } from './delay-pipe.ts'
import { roleOffset } from './replica-reads.ts'
import { connectResp, waitForPong } from './resp.ts'

export interface LaggingReplica {
  port: number
  /** The replication link: hold it to make the replica fall behind at will (tests). */
  link: Pick<DelayPipe, 'hold' | 'release'>
  close(): Promise<void>
}

/**
 * A redis-server replica of the primary at `primaryPort`, `lagMs` behind it: its replication link
 * runs through a pipe that holds every chunk for `lagMs`. Resolves once it has synced. For the
 * Upstash bridge's replica-lag mode (read replicas that lag, as Upstash's can).
 *
 * @example const replica = await startLaggingReplica({ primaryPort: 6379, lagMs: 200 })
 */
export async function startLaggingReplica(options: {
  primaryPort: number
  lagMs: number
  binary?: string
}): Promise<LaggingReplica> {
  const pipe = await startDelayPipe({ targetPort: options.primaryPort, delayMs: options.lagMs })
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-replica-'))
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  args.push('--replicaof', '127.0.0.1', String(pipe.port), '--dir', dir)
  const child = spawn(options.binary ?? process.env.REDIS_SERVER ?? 'redis-server', args, {
    stdio: 'ignore',
  })
  const exited = once(child, 'exit')
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    await pipe.close()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const gone = () => child.exitCode !== null || child.signalCode !== null
    await waitForPong(port, { deadlineMs: 10_000, exited: gone })
    const connection = await connectResp({ port })
    try {
      // Synced: the link is up and the initial transfer is done (a positive offset).
      for (const deadline = Date.now() + 30_000; ;) {
        const role = await connection.call('ROLE')
        if (Array.isArray(role) && String(role[3]) === 'connected' && roleOffset(role) > 0) break
        if (Date.now() > deadline || gone()) throw new Error('replica did not sync')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } finally {
      await connection.close()
    }
  } catch (e) {
    await close()
    throw e
  }
  return { port, link: pipe, close }
}
