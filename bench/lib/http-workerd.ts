/**
 * The workerd half of `npm run bench:http` (and of the raw-HTTP fuzz suite, which serves the real
 * Worker entry the same way): bundle an entry (default bench/workerd/entry.ts) and run it under plain
 * `workerd serve` (scripts/workerd.ts), not behind `wrangler dev`'s proxy, so the numbers are the
 * runtime's own. The Worker takes the edge Worker's compatibility date and flags (wrangler.toml)
 * unless told otherwise, the GATEHOUSE_* settings as text bindings, and may reach local servers on
 * loopback. Generated files go to bench/.work/ (git-ignored) unless a work directory is given.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import {
  bundleWorker as bundleFromConfig,
  EDGE_WRANGLER_CONFIG,
  readWorkerSettings,
  REPO_ROOT,
  WORKERD_BIN,
  writeWorkerdConfig,
} from '../../scripts/workerd.ts'
import { freePort, startExecutable, type ServerProcess } from './http-process.ts'

export { workerdVersion } from '../../scripts/workerd.ts'

const WORK = join(REPO_ROOT, 'bench/.work')
const ENTRY = join(REPO_ROOT, 'bench/workerd/entry.ts')

/** The edge Worker's compatibility flags (wrangler.toml), so a bench Worker runs as the edge does. */
function edgeFlags(): string[] {
  return readWorkerSettings(EDGE_WRANGLER_CONFIG).compatibilityFlags
}

export interface WorkerdOptions {
  /** The edge Worker's compatibility date (wrangler.toml). */
  compatibilityDate: string
  /** Text bindings: the GATEHOUSE_* config. */
  vars: Record<string, string>
  /** Where the bundle and config live. Default bench/.work. */
  workDir?: string
  /** Receives workerd's stdout (the Worker's console output) line by line. Default: discarded. */
  onStdout?: (line: string) => void
  /** Default: the edge Worker's flags from wrangler.toml. */
  compatibilityFlags?: string[]
}

/**
 * Bundles a Worker entry (default the bench Worker); returns the module file names in
 * `<workDir>/worker`, the main module first.
 *
 * @example const modules = await bundleWorker('2026-11-01', { entry: 'src/entry/worker.ts', workDir })
 */
export async function bundleWorker(
  compatibilityDate: string,
  options: { entry?: string; workDir?: string; compatibilityFlags?: string[] } = {},
): Promise<string[]> {
  const work = options.workDir ?? WORK
  mkdirSync(work, { recursive: true })
  const wranglerConfig = join(work, 'wrangler.toml')
  const entry = relative(work, resolve(REPO_ROOT, options.entry ?? ENTRY))
  writeFileSync(
    wranglerConfig,
    [
      'name = "gatehouse-bench"',
      `main = ${JSON.stringify(entry)}`,
      `compatibility_date = ${JSON.stringify(compatibilityDate)}`,
      `compatibility_flags = ${JSON.stringify(options.compatibilityFlags ?? edgeFlags())}`,
      '',
    ].join('\n'),
  )
  return bundleFromConfig(wranglerConfig, join(work, 'worker'))
}

/** Writes the capnp config for the bundle and starts `workerd serve` on a free loopback port. */
export async function startWorkerd(
  modules: string[],
  options: WorkerdOptions,
): Promise<ServerProcess> {
  const port = await freePort()
  const work = options.workDir ?? WORK
  const configPath = writeWorkerdConfig({
    configPath: join(work, 'config.capnp'),
    bundleDir: join(work, 'worker'),
    modules,
    settings: {
      compatibilityDate: options.compatibilityDate,
      compatibilityFlags: options.compatibilityFlags ?? edgeFlags(),
    },
    vars: options.vars,
    port,
  })
  return startExecutable(
    'workerd',
    WORKERD_BIN,
    ['serve', configPath],
    port,
    '/healthz',
    work,
    options.onStdout,
  )
}
