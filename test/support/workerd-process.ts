/**
 * The edge Worker itself (src/entry/worker.ts, bundled as `wrangler deploy` bundles it) served by a
 * real `workerd serve` process (scripts/workerd.ts), for the tests that put the edge under faults.
 * Chosen over `wrangler dev` (a proxy Worker and a Node controller in front of workerd, seconds to
 * start, one more thing to fail on a loaded host) and Miniflare's API (its loopback server and
 * dispatch run inside the test process, which is also generating the load): this is one process, the
 * runtime alone, up in a fraction of a second, so restarting it (a cold isolate) is cheap.
 *
 * workerd prints the Worker's `console.log` lines (our JSON logs) on stdout; they are kept, across
 * restarts, for assertions. One bundle per test process, built on first use.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { freePort } from '../../scripts/dev-ports.ts'
import {
  EDGE_WRANGLER_CONFIG,
  WORKERD_BIN,
  bundleWorker,
  readWorkerSettings,
  writeWorkerdConfig,
} from '../../scripts/workerd.ts'

export interface WorkerdProcess {
  /** The loopback port; the same across restarts. */
  readonly port: number
  readonly url: string
  /** Every stdout line of every run, parsed as JSON (other lines kept as `{ msg: line }`). */
  readonly logs: Record<string, unknown>[]
  /** The current run's stderr (last 8 KB). */
  stderr(): string
  /**
   * Kills workerd (SIGKILL) and starts a new one on the same port: a cold isolate (no L1, no keys,
   * no revocation filter). `vars` replace the Worker's bindings when given.
   */
  restart(vars?: Record<string, string>): Promise<void>
  /** SIGKILL, wait for the exit, remove the generated config. */
  close(): Promise<void>
}

const LISTEN_DEADLINE_MS = 30_000
const BUNDLE = { dir: '', modules: undefined as Promise<string[]> | undefined }

/** The edge Worker bundled once per test process into a temporary directory. */
function edgeBundle(): Promise<string[]> {
  if (BUNDLE.modules === undefined) {
    BUNDLE.dir = mkdtempSync(join(tmpdir(), 'gatehouse-edge-bundle-'))
    process.once('exit', () => rmSync(BUNDLE.dir, { recursive: true, force: true }))
    BUNDLE.modules = bundleWorker(EDGE_WRANGLER_CONFIG, join(BUNDLE.dir, 'worker'))
  }
  return BUNDLE.modules
}

/** Resolves once something accepts TCP connections on the port (no request reaches the Worker). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * Starts the edge Worker in workerd with `vars` as its bindings ([vars] / secrets in production).
 *
 * @example
 * const edge = await startWorkerd({ GATEHOUSE_ISSUER: ISSUER, GATEHOUSE_AUDIENCE: API, ... })
 * await fetch(`${edge.url}/verify`, { headers: { authorization: `Bearer ${token}` } })
 * await edge.restart() // cold isolate
 * await edge.close()
 */
export async function startWorkerd(vars: Record<string, string>): Promise<WorkerdProcess> {
  const modules = await edgeBundle()
  const settings = readWorkerSettings(EDGE_WRANGLER_CONFIG)
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-workerd-'))
  const logs: Record<string, unknown>[] = []
  let current = { vars, port: 0 }
  let child: ChildProcess | undefined
  let exited: Promise<unknown> = Promise.resolve()
  let stderr = ''

  const kill = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }

  const launch = async (port: number): Promise<boolean> => {
    const configPath = writeWorkerdConfig({
      configPath: join(dir, 'config.capnp'),
      bundleDir: join(BUNDLE.dir, 'worker'),
      modules,
      settings,
      vars: current.vars,
      port,
    })
    stderr = ''
    const proc = spawn(WORKERD_BIN, ['serve', configPath], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = proc
    exited = once(proc, 'exit')
    proc.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-8000)))
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        logs.push({ msg: line })
      }
    })
    const started = performance.now()
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) return false // e.g. port taken
      if (await accepts(port)) return true
      if (performance.now() - started > LISTEN_DEADLINE_MS) {
        await kill()
        throw new Error(`workerd did not listen within ${LISTEN_DEADLINE_MS} ms:\n${stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  // A free port can be taken between the probe and workerd's bind: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    if (await launch(port)) {
      current = { vars, port }
      break
    }
    if (attempt === 4) {
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`workerd exited before listening:\n${stderr}`)
    }
  }

  return {
    get port() {
      return current.port
    },
    get url() {
      return `http://127.0.0.1:${current.port}`
    },
    logs,
    stderr: () => stderr,
    async restart(newVars) {
      await kill()
      if (newVars) current = { ...current, vars: newVars }
      if (!(await launch(current.port)))
        throw new Error(`workerd did not come back on port ${current.port}:\n${stderr}`)
    },
    async close() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
