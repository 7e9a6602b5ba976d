/**
 * The package as a user receives it: `npm run build` and `npm pack` of the repository's package.json
 * and README, the tarball unpacked into a fresh app's node_modules, and only the packages its
 * manifest declares (dependencies and peer dependencies) linked beside it from this repository's
 * node_modules. Offline: no registry is contacted, and an import of anything the manifest forgot
 * fails here as it would for a user. `npm pack` runs with --ignore-scripts after the build, so the
 * run never rewrites src/wasm/build/sbbf.wasm while other suites read it (`prepack` does the same
 * build for a real pack). The build goes to a staging copy of the package root, not the
 * repository's dist/, which `npm start` (test/unit/entry/node-process.test.ts) rebuilds meanwhile.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { symlinkSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export const ROOT = new URL('../../', import.meta.url).pathname

/**
 * The Node the repository pins (22, running this test) and the system's Node, the one npm itself runs
 * on (Debian's 20 on this machine and in CI: the oldest `engines` allows). A library user's runtime.
 */
export const NODES = {
  pinned: process.execPath,
  system: process.env.npm_node_execpath ?? '/usr/bin/node',
} as const

/** Library users need at least this major (package.json `engines.node`). */
export const OLDEST_SUPPORTED_MAJOR = 20

export interface Manifest {
  name: string
  engines: { node: string }
  exports: Record<string, string | Record<string, string>>
  bin: Record<string, string>
  files: string[]
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
  devDependencies?: Record<string, string>
}

export interface PackedApp {
  /** The consumer app; `node_modules/<name>` holds the unpacked tarball. */
  dir: string
  tarball: string
  /** Paths inside the tarball, as `npm pack` lists them. */
  files: string[]
  /** The packed package.json. */
  manifest: Manifest
  /** Where the package was unpacked. */
  packageDir: string
  close(): void
}

/** Runs a command; throws with its output when it fails. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    input: options.input,
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`,
    )
  return result
}

/**
 * Builds, packs and installs the package into a new temporary app.
 *
 * @example
 * const app = packIntoApp()
 * run(NODES.system, ['-e', "import('@gatehouse/auth/client')"], { cwd: app.dir })
 */
export function packIntoApp(): PackedApp {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-package-'))
  const stage = join(dir, 'stage')
  mkdirSync(stage)
  for (const file of ['package.json', 'README.md'])
    copyFileSync(join(ROOT, file), join(stage, file))
  run(
    process.execPath,
    ['--experimental-strip-types', 'scripts/build-package.ts', `--out-dir=${join(stage, 'dist')}`],
    { cwd: ROOT },
  )
  const packed = run(
    'npm',
    ['pack', stage, '--json', '--ignore-scripts', '--pack-destination', dir],
    { cwd: dir },
  )
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[]
  if (info === undefined) throw new Error('npm pack listed no package')
  const tarball = join(dir, info.filename)

  const app = join(dir, 'app')
  const unpacked = join(dir, 'unpacked')
  mkdirSync(unpacked, { recursive: true })
  run('tar', ['-xzf', tarball, '-C', unpacked], { cwd: dir })
  const manifest = JSON.parse(
    readFileSync(join(unpacked, 'package', 'package.json'), 'utf8'),
  ) as Manifest
  const packageDir = join(app, 'node_modules', manifest.name)
  mkdirSync(dirname(packageDir), { recursive: true })
  renameSync(join(unpacked, 'package'), packageDir)

  // What `npm install <tarball>` would add: declared dependencies and (npm >= 7) peer dependencies;
  // @types/node is the consumer's own dev dependency.
  const linked = [
    ...Object.keys(manifest.dependencies),
    ...Object.keys(manifest.peerDependencies),
    '@types/node',
  ]
  for (const name of linked) {
    const target = join(app, 'node_modules', name)
    mkdirSync(dirname(target), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules', name), target, 'dir')
  }
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`,
  )
  return {
    dir: app,
    tarball,
    files: info.files.map((f) => f.path),
    manifest,
    packageDir,
    close: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The JavaScript target of each `exports` subpath (`.` → `./dist/index.js`). */
export function exportTargets(manifest: Manifest): Record<string, string> {
  return Object.fromEntries(
    Object.entries(manifest.exports)
      .filter(([subpath]) => subpath !== './package.json')
      .map(([subpath, target]) => [
        subpath,
        typeof target === 'string' ? target : (target.import as string),
      ]),
  )
}

/** `@gatehouse/auth` for `.`, `@gatehouse/auth/client` for `./client`. */
export const specifierOf = (manifest: Manifest, subpath: string): string =>
  subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`
