/**
 * The workerd half of `npm run bench:http`: bundle bench/workerd/entry.ts with
 * `wrangler deploy --dry-run --outdir` (offline: the same esbuild pipeline a real deploy uses), write a
 * workerd config for it, and run `workerd serve` directly, not behind `wrangler dev`'s proxy, so the
 * numbers are the runtime's own. Generated files go to bench/.work/ (git-ignored).
 *
 * The config: the bundle's modules, the edge Worker's compatibility date and `nodejs_compat`, the
 * GATEHOUSE_* settings as text bindings (as wrangler `[vars]` would be), one HTTP socket on a loopback
 * port, and `globalOutbound` through a network service that allows loopback and private addresses
 * (workerd allows only public ones by default), so the gateway can reach the local upstream.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, startExecutable, type ServerProcess } from './http-process.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const WORK = join(ROOT, 'bench/.work')
const BUNDLE = join(WORK, 'worker')
const ENTRY = '../workerd/entry.ts'
const WORKERD = join(ROOT, 'node_modules/.bin/workerd')
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler')

export interface WorkerdOptions {
  /** The edge Worker's compatibility date (wrangler.toml). */
  compatibilityDate: string
  /** Text bindings: the GATEHOUSE_* config. */
  vars: Record<string, string>
}

/** Bundles the bench Worker; returns the module file names in bench/.work/worker. */
export async function bundleWorker(compatibilityDate: string): Promise<string[]> {
  mkdirSync(WORK, { recursive: true })
  rmSync(BUNDLE, { recursive: true, force: true })
  const wranglerConfig = join(WORK, 'wrangler.toml')
  writeFileSync(
    wranglerConfig,
    [
      'name = "gatehouse-bench"',
      `main = "${ENTRY}"`,
      `compatibility_date = "${compatibilityDate}"`,
      'compatibility_flags = ["nodejs_compat"]',
      '',
    ].join('\n'),
  )
  await run(
    process.execPath,
    [WRANGLER, 'deploy', '--dry-run', '--outdir', BUNDLE, '--config', wranglerConfig],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
  )
  const modules = readdirSync(BUNDLE).filter((f) => /\.(m?js|wasm)$/.test(f))
  if (!modules.some((f) => f === 'entry.js')) throw new Error('wrangler produced no entry.js')
  // The entry module first: workerd treats the first module as the main one.
  return ['entry.js', ...modules.filter((f) => f !== 'entry.js')]
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
  compatibilityFlags = ["nodejs_compat"],
  bindings = [
    ${bindings.join(',\n    ')}
  ],
  globalOutbound = "loopback",
);
`
  const configPath = join(WORK, 'config.capnp')
  writeFileSync(configPath, config)
  return startExecutable('workerd', WORKERD, ['serve', configPath], port, '/healthz', WORK)
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
