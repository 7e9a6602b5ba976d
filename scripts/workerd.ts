/**
 * A Worker under plain `workerd serve`, for the benchmarks (bench/lib/http-workerd.ts) and the tests
 * that put the real edge under faults (test/support/worker-process.ts): bundle it with
 * `wrangler deploy --dry-run --outdir` (offline; the same esbuild pipeline and module rules a real
 * deploy uses) and write the workerd config that serves the bundle.
 *
 * The config: the bundle's modules (main first), the Worker's compatibility date and flags, the
 * settings as text bindings (as wrangler `[vars]` would be), one HTTP socket on a loopback port, and
 * `globalOutbound` through a network service that allows loopback and private addresses (workerd
 * allows only public ones by default), so the Worker can reach a local origin, L2 or upstream.
 *
 * Not `wrangler dev`: it puts its own proxy Worker and a Node process in front of workerd, starts in
 * seconds rather than a fraction of one, and is a moving part of its own on a loaded machine.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const REPO_ROOT = new URL('..', import.meta.url).pathname
/** The workerd binary wrangler depends on (the runtime `wrangler dev` runs). */
export const WORKERD_BIN = join(REPO_ROOT, 'node_modules/.bin/workerd')
const WRANGLER = join(REPO_ROOT, 'node_modules/.bin/wrangler')
/** The edge Worker's own wrangler config (src/entry/worker.ts). */
export const EDGE_WRANGLER_CONFIG = join(REPO_ROOT, 'wrangler.toml')

export interface WorkerSettings {
  /** The entry module, as `main` in the wrangler config. */
  main: string
  compatibilityDate: string
  compatibilityFlags: string[]
}

/**
 * Reads `main`, `compatibility_date` and `compatibility_flags` from the top of a wrangler.toml (the
 * lines before the first table; enough for ours, no TOML parser needed).
 *
 * @example readWorkerSettings(EDGE_WRANGLER_CONFIG).compatibilityDate // '2026-11-01'
 */
export function readWorkerSettings(wranglerConfig: string): WorkerSettings {
  const top = readFileSync(wranglerConfig, 'utf8').split(/^\s*\[/m)[0] ?? ''
  const field = (name: string) => new RegExp(`^\\s*${name}\\s*=\\s*(.+)$`, 'm').exec(top)?.[1]
  const main = field('main')
  const date = field('compatibility_date')
  if (main === undefined || date === undefined)
    throw new Error(`${wranglerConfig}: main and compatibility_date are required`)
  const flags = field('compatibility_flags')
  return {
    main: JSON.parse(main) as string,
    compatibilityDate: JSON.parse(date) as string,
    compatibilityFlags: flags === undefined ? [] : (JSON.parse(flags) as string[]),
  }
}

/**
 * Bundles the Worker a wrangler config describes into `outDir` (emptied first); resolves the module
 * file names, the main module first (workerd treats the first module as the main one).
 *
 * @example const modules = await bundleWorker(EDGE_WRANGLER_CONFIG, '/tmp/edge/worker')
 */
export async function bundleWorker(wranglerConfig: string, outDir: string): Promise<string[]> {
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(dirname(outDir), { recursive: true })
  await run(
    process.execPath,
    [WRANGLER, 'deploy', '--dry-run', '--outdir', outDir, '--config', wranglerConfig],
    {
      cwd: REPO_ROOT,
      // A dry run into outDir: wrangler.toml's build guard lets it through (nothing is uploaded).
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CI: '1',
        GATEHOUSE_WRANGLER_BUNDLE_ONLY: '1',
      },
    },
  )
  const entry = `${basename(readWorkerSettings(wranglerConfig).main).replace(/\.[cm]?[jt]s$/, '')}.js`
  const modules = readdirSync(outDir).filter((f) => /\.(m?js|wasm)$/.test(f))
  if (!modules.includes(entry)) throw new Error(`wrangler produced no ${entry} in ${outDir}`)
  return [entry, ...modules.filter((f) => f !== entry)]
}

export interface WorkerdConfigOptions {
  /** Where the config file goes; module paths are written relative to it. */
  configPath: string
  /** The bundle's directory and its module names, main first (from `bundleWorker`). */
  bundleDir: string
  modules: string[]
  settings: Pick<WorkerSettings, 'compatibilityDate' | 'compatibilityFlags'>
  /** Text bindings: the Worker's vars. */
  vars: Record<string, string>
  port: number
}

/**
 * Writes the capnp config that serves the bundle on `127.0.0.1:<port>`; returns its path.
 *
 * @example spawn(WORKERD_BIN, ['serve', writeWorkerdConfig({ configPath, bundleDir, modules, settings, vars, port })])
 */
export function writeWorkerdConfig(options: WorkerdConfigOptions): string {
  const text = (s: string) => JSON.stringify(s) // capnp text literals share JSON's \" and \\ escapes
  const from = relative(dirname(options.configPath), options.bundleDir)
  const moduleLines = options.modules.map((m) =>
    m.endsWith('.wasm')
      ? `(name = ${text(m)}, wasm = embed ${text(join(from, m))})`
      : `(name = ${text(m)}, esModule = embed ${text(join(from, m))})`,
  )
  const bindings = Object.entries(options.vars).map(
    ([name, value]) => `(name = ${text(name)}, text = ${text(value)})`,
  )
  const flags = options.settings.compatibilityFlags.map(text).join(', ')
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .gatehouse),
    # workerd's default outbound allows only public addresses; origin, L2 and upstream are local.
    (name = "loopback", network = (allow = ["local", "private"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${options.port}", http = (), service = "main")],
);

const gatehouse :Workerd.Worker = (
  modules = [
    ${moduleLines.join(',\n    ')}
  ],
  compatibilityDate = ${text(options.settings.compatibilityDate)},
  compatibilityFlags = [${flags}],
  bindings = [
    ${bindings.join(',\n    ')}
  ],
  globalOutbound = "loopback",
);
`
  mkdirSync(dirname(options.configPath), { recursive: true })
  writeFileSync(options.configPath, config)
  return options.configPath
}

/** `workerd --version` → e.g. "workerd 2026-11-02". */
export async function workerdVersion(): Promise<string> {
  try {
    const { stdout } = await run(WORKERD_BIN, ['--version'])
    return stdout.trim()
  } catch {
    return 'unknown'
  }
}
