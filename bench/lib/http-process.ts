/**
 * Server processes for `npm run bench:http`: spawn one, wait until it listens, read its CPU time and
 * peak memory from /proc while the load runs, stop it. The servers run in their own processes so the
 * load generator (autocannon, in the bench process) never shares an event loop with them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import type * as OriginAppDir from '../../scripts/origin-app-dir.ts'
import type * as BuiltOrigin from './built-origin.ts'

// One free-port probe for the whole project (scripts/dev-ports.ts); re-exported for the bench rows.
export { freePort } from '../../scripts/dev-ports.ts'

export interface ServerProcess {
  name: string
  pid: number
  port: number
  child: ChildProcess
  stop(): Promise<void>
}

const NODE_FLAGS = ['--experimental-strip-types', '--no-warnings=ExperimentalWarning']
const START_TIMEOUT_MS = 30_000

/**
 * Runs a TypeScript server script with the pinned Node (`process.execPath`: `npm run` puts Node 22
 * first on PATH) and resolves once it prints `{"listening":<port>}` on stdout. `nodeFlags` go on
 * Node's command line (an A/B of a V8 setting: `['--heap-growing-percent=100']`).
 *
 * @example const upstream = await startNodeScript('upstream', 'bench/lib/http-upstream.ts', {})
 */
export async function startNodeScript(
  name: string,
  script: string,
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Promise<ServerProcess> {
  // The origin runs as the image runs it: JavaScript from `npm run build:origin` (built-origin.ts),
  // with `npm start`'s Node options (an A/B's `nodeFlags` after them, so they win).
  const argv = script.endsWith(ORIGIN_SCRIPT)
    ? await originArgv(script, nodeFlags)
    : [...NODE_FLAGS, ...nodeFlags, script]
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${name}: did not start within ${START_TIMEOUT_MS} ms`))
    }, START_TIMEOUT_MS)
    forwardStderr(name, child)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name}: exited with code ${code} before listening`))
    })
    // Read lines until `{"listening":…}`; after that the server's stdout (its access log) is handed
    // to a process of its own that reads and drops it, as a log shipper would (`drainTo`).
    const stdout = child.stdout as Socket
    let pending = ''
    const onData = (chunk: Buffer | string) => {
      pending += String(chunk)
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const port = listeningPort(line)
        if (port === undefined) continue
        clearTimeout(timer)
        child.removeAllListeners('exit')
        stdout.off('data', onData)
        const drain = drainTo(stdout)
        resolve(handle(name, child, port, drain))
        return
      }
    }
    stdout.on('data', onData)
  })
}

const ORIGIN_SCRIPT = 'bench/lib/http-node-origin.ts'

/**
 * The argv of the bench origin at `script`, built and started by the tools of the checkout it is in
 * (this one's, or an A/B base's: `cpu-per-request.ts --base=<dir>`): that checkout's own `npm run
 * build:origin` output with its own `npm start` options. Built by this checkout's tools instead, the
 * base's src/ was bundled into one file by esbuild (its paths are not this checkout's src/) while
 * ours ran as tsc's modules: an A/A then compared two builds of the same code.
 */
async function originArgv(script: string, nodeFlags: readonly string[]): Promise<string[]> {
  const root = resolve(script.slice(0, -ORIGIN_SCRIPT.length))
  const from = (path: string) => pathToFileURL(join(root, path)).href
  const { builtScript } = (await import(from('bench/lib/built-origin.ts'))) as typeof BuiltOrigin
  const { originNodeOptions } = (await import(
    from('scripts/origin-app-dir.ts')
  )) as typeof OriginAppDir
  return [...originNodeOptions(), ...nodeFlags, await builtScript(script)]
}

/**
 * Hands a server's stdout pipe to a `cat > /dev/null` process. Read here instead, every access-log
 * line of our servers (several MB/s under load) would be read in the event loop that also runs the
 * load generator, slowing the client during our rows only (the bare peers log nothing). A log
 * shipper reads from a process of its own, and so does this; the server writes to a pipe either way.
 */
function drainTo(stdout: Socket): ChildProcess {
  stdout.pause()
  const drain = spawn('sh', ['-c', 'exec cat > /dev/null'], { stdio: [stdout, 'ignore', 'ignore'] })
  // The drain has its own copy of the pipe; ours (and anything it had read ahead) is dropped.
  stdout.destroy()
  return drain
}

function listeningPort(line: string): number | undefined {
  try {
    const port = (JSON.parse(line) as { listening?: unknown }).listening
    return typeof port === 'number' ? port : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs any executable and resolves once `http://127.0.0.1:<port><readyPath>` answers (any status):
 * for workerd, which prints nothing when its socket is up. Its stdout goes to `onStdout`, line by line,
 * or nowhere.
 */
export async function startExecutable(
  name: string,
  file: string,
  args: string[],
  port: number,
  readyPath: string,
  cwd: string,
  onStdout?: (line: string) => void,
): Promise<ServerProcess> {
  const child = spawn(file, args, { cwd, stdio: ['ignore', onStdout ? 'pipe' : 'ignore', 'pipe'] })
  if (onStdout)
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onStdout)
  forwardStderr(name, child)
  let exited: number | null | undefined
  child.once('exit', (code) => (exited = code))
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (exited !== undefined)
      throw new Error(`${name}: exited with code ${exited} before listening`)
    try {
      await fetch(`http://127.0.0.1:${port}${readyPath}`, { signal: AbortSignal.timeout(1000) })
      return handle(name, child, port)
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`${name}: did not answer within ${START_TIMEOUT_MS} ms`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

function handle(
  name: string,
  child: ChildProcess,
  port: number,
  drain?: ChildProcess,
): ServerProcess {
  return {
    name,
    pid: child.pid as number,
    port,
    child,
    stop() {
      // The drain ends with the server's pipe; killed too in case the server leaves a child holding it.
      child.once('exit', () => drain?.kill())
      if (child.exitCode !== null || child.signalCode !== null) {
        drain?.kill()
        return Promise.resolve()
      }
      return new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
        child.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill('SIGTERM')
      })
    },
  }
}

/** Server error output goes to ours, prefixed, so a crash under load is visible in the bench log. */
function forwardStderr(name: string, child: ChildProcess): void {
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    process.stderr.write(`[${name}] ${line}\n`)
  })
}

const CLOCK_TICKS_PER_SECOND = 100

/** User + system CPU seconds the process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) is in parentheses and may contain spaces: split after its `)`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** Peak (VmHWM) and current (VmRSS) resident set size in MiB, from /proc/<pid>/status. */
export function memoryMiB(pid: number): { peakRss: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1])
  return { peakRss: kib('VmHWM') / 1024, rss: kib('VmRSS') / 1024 }
}
