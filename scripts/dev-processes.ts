/**
 * Child processes of the dev stack: started in their own process group (so stopping one also stops
 * what it spawned, e.g. wrangler's workerd), output forwarded line by line with a prefix, readiness
 * awaited by polling an HTTP URL, and stopped with SIGTERM, then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

export type LogLine = (source: string, line: string) => void

export interface Child {
  name: string
  process: ChildProcess
  /** Resolves when the process has exited. */
  exited: Promise<void>
  stop(): Promise<void>
}

/**
 * @example const origin = startChild('origin', process.execPath, ['src/entry/node.ts'], { env, cwd, log })
 */
export function startChild(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; log: LogLine },
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => options.log(name, line))
  }
  const exited = once(child, 'exit').then(() => undefined)
  child.once('error', (err) => options.log(name, `could not start: ${err.message}`))
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal)
    } catch {
      // Already gone.
    }
  }
  return {
    name,
    process: child,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
      signalGroup('SIGTERM')
      const killTimer = setTimeout(() => signalGroup('SIGKILL'), 5000)
      await exited
      clearTimeout(killTimer)
      // The leader may exit before its children (workerd): make sure the group is gone.
      signalGroup('SIGKILL')
    },
  }
}

/**
 * Polls `url` until it answers 2xx, the child exits, or `timeoutMs` passes (then throws).
 *
 * @example await waitForHttp('http://127.0.0.1:8788/healthz', { child: origin, timeoutMs: 15000 })
 */
export async function waitForHttp(
  url: string,
  options: { child?: Child; timeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let exited = false
  void options.child?.exited.then(() => (exited = true))
  for (let delay = 50; ; delay = Math.min(delay * 2, 250)) {
    if (exited)
      throw new Error(`${options.child?.name ?? 'the process'} exited before it was ready`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await response.body?.cancel()
      if (response.ok) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`${options.child?.name ?? url} was not ready after ${options.timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}
