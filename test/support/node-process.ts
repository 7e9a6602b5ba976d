/**
 * Spawns the origin as a real Node process the way the image and `npm start` do: `node
 * dist/entry/node.js`, built from this run's src/ by the globalSetup test/support/global-origin-app.ts,
 * from a directory laid out as the image's /app. Waits for its `listening` log line under a generous
 * deadline and keeps its JSON log lines for assertions. (The edge runs in workerd: workerd-process.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { inject } from 'vitest'
import { ORIGIN_ENTRY, originNodeOptions } from '../../scripts/origin-app-dir.ts'

export const ROOT = new URL('../../', import.meta.url).pathname

/**
 * This run's built origin: `dir` plays the image's /app (its WORKDIR), `argv` is the image's
 * ENTRYPOINT after `node` (`npm start`'s Node options, then the entry file). Throws when the vitest project lacks the globalSetup.
 *
 * @example spawn(process.execPath, originApp().argv, { cwd: originApp().dir })
 */
export function originApp(): { dir: string; entry: string; argv: string[] } {
  const dir = inject('originAppDir')
  if (dir === undefined)
    throw new Error('no built origin: add test/support/global-origin-app.ts to globalSetup')
  return { dir, entry: join(dir, ORIGIN_ENTRY), argv: [...originNodeOptions(), ORIGIN_ENTRY] }
}

export interface NodeProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly url: string
  /** Every stdout line parsed as JSON (non-JSON lines are kept as `{ msg: line }`). */
  readonly logs: Record<string, unknown>[]
  stderr(): string
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>
  /** SIGTERM and wait for the exit; resolves the exit code. */
  stop(): Promise<number | null>
}

const LISTEN_DEADLINE_MS = 60_000

/**
 * @example
 * const origin = await startOriginProcess({ GATEHOUSE_CONFIG: path, ... })
 * await fetch(`${origin.url}/healthz`)
 * await origin.stop()
 */
export async function startOriginProcess(
  env: Record<string, string>,
  options: { nodeArgs?: string[] } = {},
): Promise<NodeProcess> {
  const app = originApp()
  const script = app.entry
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...app.argv], {
    cwd: app.dir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-8000)))
  const logs: Record<string, unknown>[] = []
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not listen within ${LISTEN_DEADLINE_MS} ms:\n${stderr}`))
    }, LISTEN_DEADLINE_MS)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited with ${String(code)}:\n${stderr}`))
    })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let record: Record<string, unknown>
      try {
        record = JSON.parse(line) as Record<string, unknown>
      } catch {
        record = { msg: line }
      }
      logs.push(record)
      if (record.msg === 'listening' && typeof record.port === 'number') {
        clearTimeout(timer)
        resolve(record.port)
      }
    })
  })
  const alive = () => child.exitCode === null && child.signalCode === null
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    stderr: () => stderr,
    async kill() {
      if (alive()) child.kill('SIGKILL')
      await exited
    },
    async stop() {
      if (alive()) child.kill('SIGTERM')
      return exited
    },
  }
}
