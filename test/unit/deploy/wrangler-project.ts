/**
 * A throwaway copy of the project as wrangler sees it: the repository's wrangler.toml with
 * `extraToml` appended (an operator's environments), beside links to src/, scripts/, node_modules/
 * and package.json, so the build steps (the deploy guard, `npm run gatehouse -- config check`) run
 * exactly as in the repository, and the real wrangler.toml is never edited.
 *
 * @example
 * const project = wranglerProject(readFileSync('docs/examples/wrangler-environments.toml', 'utf8'))
 * wrangler(['deploy', '--dry-run', '--env', 'production'], project.dir)
 */
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = new URL('../../../', import.meta.url).pathname
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js')

export interface WranglerProject {
  dir: string
  close(): void
}

export function wranglerProject(extraToml = ''): WranglerProject {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-wrangler-'))
  for (const name of ['src', 'scripts', 'node_modules'])
    symlinkSync(join(ROOT, name), join(dir, name), 'dir')
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
  writeFileSync(join(dir, 'wrangler.toml'), `${toml}\n${extraToml}`)
  return { dir, close: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Wrangler with the pinned Node first on PATH (build steps run `node`/`npm`), telemetry off. */
export function wrangler(args: string[], cwd: string) {
  const result = spawnSync(process.execPath, [WRANGLER, ...args], {
    cwd,
    env: {
      ...process.env,
      PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
      WRANGLER_SEND_METRICS: 'false',
      CI: '1',
    },
    encoding: 'utf8',
  })
  return { code: result.status, output: `${result.stdout}\n${result.stderr}` }
}
