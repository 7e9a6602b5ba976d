/**
 * The workerd half of `npm run bench:http` (and of the raw-HTTP fuzz suite, which serves the real
 * Worker entry the same way): bundle an entry (default bench/workerd/entry.ts) with
 * `wrangler deploy --dry-run --outdir` (offline: the same esbuild pipeline a real deploy uses), write a
 * workerd config for it, and run `workerd serve` directly, not behind `wrangler dev`'s proxy, so the
 * numbers are the runtime's own. Generated files go to bench/.work/ (git-ignored) unless a work
 * directory is given.
 *
 * The config: the bundle's modules, the edge Worker's compatibility date and `nodejs_compat`, the
 * GATEHOUSE_* settings as text bindings (as wrangler `[vars]` would be), one HTTP socket on a loopback
 * port, and `globalOutbound` through a network service that allows loopback and private addresses
 * (workerd allows only public ones by default), so the gateway can reach the local upstream.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'
import { freePort, startExecutable, type ServerProcess } from './http-process.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const WORK = join(ROOT, 'bench/.work')
const ENTRY = join(ROOT, 'bench/workerd/entry.ts')
const WORKERD = join(ROOT, 'node_modules/.bin/workerd')
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler')

export interface WorkerdOptions {
  /** The edge Worker's compatibility date (wrangler.toml). */
  compatibilityDate: string
  /** Text bindings: the GATEHOUSE_* config. */
  vars: Record<string, string>
  /** Where the bundle and config live. Default bench/.work. */
  workDir?: string
  /** Receives workerd's stdout (the Worker's console output) line by line. Default: discarded. */
  onStdout?: (line: string) => void
  /** Default `nodejs_compat`; the edge Worker itself runs without (wrangler.toml). */
  compatibilityFlags?: string[]
}

/**
 * Bundles a Worker entry (default the bench Worker); returns the module file names in
 * `<workDir>/worker`.
 *
 * @example const modules = await bundleWorker('2026-11-01', { entry: 'src/entry/worker.ts', workDir })
 */
export async function bundleWorker(
  compatibilityDate: string,
  options: { entry?: string; workDir?: string; compatibilityFlags?: string[] } = {},
): Promise<string[]> {
  const flags = options.compatibilityFlags ?? ['nodejs_compat']
  const work = options.workDir ?? WORK
  const bundle = join(work, 'worker')
  mkdirSync(work, { recursive: true })
  rmSync(bundle, { recursive: true, force: true })
  const wranglerConfig = join(work, 'wrangler.toml')
  const entry = relative(work, resolve(ROOT, options.entry ?? ENTRY))
  writeFileSync(
    wranglerConfig,
    [
      'name = "gatehouse-bench"',
      `main = "${entry}"`,
      `compatibility_date = "${compatibilityDate}"`,
      `compatibility_flags = ${JSON.stringify(flags)}`,
      '',
    ].join('\n'),
  )
  await run(
    process.execPath,
    [WRANGLER, 'deploy', '--dry-run', '--outdir', bundle, '--config', wranglerConfig],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
  )
  const main = `${basename(entry).replace(/\.ts$/, '')}.js`
  const modules = readdirSync(bundle).filter((f) => /\.(m?js|wasm)$/.test(f))
  if (!modules.some((f) => f === main)) throw new Error(`wrangler produced no ${main}`)
  // The entry module first: workerd treats the first module as the main one.
  return [main, ...modules.filter((f) => f !== main)]
}

/** Writes the capnp config for the bundle and starts `workerd serve` on a free loopback port. */
export async function startWorkerd(
  modules: string[],
  options: WorkerdOptions,
): Promise<ServerProcess> {
  const port = await freePort()
  const text = (s: string) => JSON.stringify(s) // capnp text literals share JSON's \" and \\ escapes
  const moduleLines = modules.map((m) =>
    m.endsWith('.wasm')
      ? `(name = ${text(m)}, wasm = embed ${text(`worker/${m}`)})`
      : `(name = ${text(m)}, esModule = embed ${text(`worker/${m}`)})`,
  )
  const bindings = Object.entries(options.vars).map(
    ([name, value]) => `(name = ${text(name)}, text = ${text(value)})`,
  )
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .gatehouse),
    # workerd's default outbound allows only public addresses; the gateway upstream is on loopback.
    (name = "loopback", network = (allow = ["local", "private"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);

const gatehouse :Workerd.Worker = (
  modules = [
    ${moduleLines.join(',\n    ')}
  ],
  compatibilityDate = ${text(options.compatibilityDate)},
  compatibilityFlags = ${JSON.stringify(options.compatibilityFlags ?? ['nodejs_compat'])},
  bindings = [
    ${bindings.join(',\n    ')}
  ],
  globalOutbound = "loopback",
);
`
  const work = options.workDir ?? WORK
  const configPath = join(work, 'config.capnp')
  writeFileSync(configPath, config)
  return startExecutable(
    'workerd',
    WORKERD,
    ['serve', configPath],
    port,
    '/healthz',
    work,
    options.onStdout,
  )
}

/** `workerd --version` → e.g. "workerd 2026-11-02". */
export async function workerdVersion(): Promise<string> {
  try {
    const { stdout } = await run(WORKERD, ['--version'])
    return stdout.trim()
  } catch {
    return 'unknown'
  }
}
