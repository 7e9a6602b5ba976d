/**
 * workerd for `npm run bench:policy`: bundle a Worker entry with `wrangler deploy --dry-run` (the
 * pipeline a real deploy uses, offline), and serve the bundle with plain `workerd serve`, timing the
 * process from spawn to its first answer. Everything generated goes to bench/.work/policy/ (ignored).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { freePort } from '../scripts/dev-ports.ts'

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname
export const WORK = join(ROOT, 'bench/.work/policy')
const WORKERD = join(ROOT, 'node_modules/.bin/workerd')
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler')

export interface Bundle {
  name: string
  dir: string
  /** The entry module first: workerd takes the first module as the main one. */
  modules: string[]
  /** Bytes of every module, raw and gzip (what `wrangler deploy` reports as the upload). */
  bytes: number
  gzipBytes: number
}

/**
 * Bundles `entry` (a path from the repository root) as wrangler would deploy it.
 *
 * @example const bundle = await bundleWorker('edge', 'src/entry/worker.ts', '2026-11-01')
 */
export async function bundleWorker(
  name: string,
  entry: string,
  compatibilityDate: string,
): Promise<Bundle> {
  const dir = join(WORK, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const config = join(WORK, `${name}.wrangler.toml`)
  writeFileSync(
    config,
    [
      `name = "bench-${name}"`,
      `main = "${relative(WORK, join(ROOT, entry))}"`,
      `compatibility_date = "${compatibilityDate}"`,
      '',
    ].join('\n'),
  )
  await run(
    process.execPath,
    [WRANGLER, 'deploy', '--dry-run', '--outdir', dir, '--config', config],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    },
  )
  const files = readdirSync(dir).filter((f) => /\.(m?js|wasm)$/.test(f))
  const main = files.find((f) => f === basename(entry).replace(/\.ts$/, '.js'))
  if (main === undefined) throw new Error(`wrangler produced no entry module for ${entry}`)
  const modules = [main, ...files.filter((f) => f !== main)]
  let bytes = 0
  let gzipBytes = 0
  for (const file of modules) {
    const content = readFileSync(join(dir, file))
    bytes += statSync(join(dir, file)).size
    gzipBytes += gzipSync(content, { level: 9 }).length
  }
  return { name, dir, modules, bytes, gzipBytes }
}

export interface RunningWorkerd {
  url: string
  /** Milliseconds from spawn to the first answer on `readyPath`. */
  readyMs: number
  child: ChildProcess
  stop(): Promise<void>
}

/**
 * Serves a bundle and resolves once it answers `readyPath` (polled every 2 ms).
 *
 * @example const workerd = await serveBundle(bundle, { vars: {}, readyPath: '/noop' })
 */
export async function serveBundle(
  bundle: Bundle,
  options: {
    compatibilityDate: string
    vars?: Record<string, string>
    readyPath: string
    /** Names this process's config file, when several serve one bundle. Default the bundle's. */
    name?: string
    /** More `workerd serve` arguments (say, `--inspector-addr=127.0.0.1:9229` to profile). */
    args?: string[]
  },
): Promise<RunningWorkerd> {
  const port = await freePort()
  const text = (s: string) => JSON.stringify(s)
  const modules = bundle.modules.map((m) =>
    m.endsWith('.wasm')
      ? `(name = ${text(m)}, wasm = embed ${text(`${bundle.name}/${m}`)})`
      : `(name = ${text(m)}, esModule = embed ${text(`${bundle.name}/${m}`)})`,
  )
  const bindings = Object.entries(options.vars ?? {}).map(
    ([name, value]) => `(name = ${text(name)}, text = ${text(value)})`,
  )
  const configPath = join(WORK, `${options.name ?? bundle.name}.capnp`)
  writeFileSync(
    configPath,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "loopback", network = (allow = ["local", "private"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = ${text(options.compatibilityDate)},
  compatibilityFlags = ["nodejs_compat"],
  bindings = [${bindings.join(', ')}],
  globalOutbound = "loopback",
);
`,
  )
  const started = performance.now()
  const child = spawn(WORKERD, ['serve', configPath, ...(options.args ?? [])], {
    cwd: WORK,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const url = `http://127.0.0.1:${port}`
  const stop = (): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => {
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
        })
  const deadline = started + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited: ${stderr.slice(0, 2000)}`)
    try {
      await fetch(url + options.readyPath)
      return { url, readyMs: performance.now() - started, child, stop }
    } catch {
      if (performance.now() > deadline) {
        await stop()
        throw new Error('workerd did not answer within 30 s')
      }
      await new Promise((r) => setTimeout(r, 2))
    }
  }
}
