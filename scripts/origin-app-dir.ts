/**
 * The origin laid out as the production image holds it in /app (k8s-fallback/Dockerfile):
 * `package.json`, `node_modules` and `dist/` from `npm run build:origin`, in a fresh temporary
 * directory. Tests and benchmarks that claim to run what the container runs start
 * `node dist/entry/node.js` there (the image's ENTRYPOINT, from that directory as its WORKDIR). Built
 * from src/ on every call, never reused, so nothing runs stale code; and outside the repository's
 * dist/, which `npm start` and the package tests rebuild while other suites run.
 *
 * `node_modules` is a symlink to the repository's (all dependencies, where the image has the
 * production ones only: test/unit/k8s/app-contract.test.ts checks those suffice).
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The image's ENTRYPOINT file, relative to its WORKDIR (and to `OriginAppDir.dir`). */
export const ORIGIN_ENTRY = 'dist/entry/node.js'

/**
 * The Node options `npm start` gives the origin, from package.json's `start` script (`exec node
 * <options> dist/entry/node.js`; the image's ENTRYPOINT is the same argv, test/unit/k8s/app-contract.test.ts).
 * Tests and benchmarks that start the origin pass them too, so they run the process `npm start` runs:
 * the V8 heap options there can only be set at process start (src/entry/node-heap.ts).
 *
 * @example spawn(process.execPath, [...originNodeOptions(), ORIGIN_ENTRY], { cwd: app.dir })
 */
export function originNodeOptions(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>
  }
  const argv = (scripts.start ?? '').replace(/^exec /, '').split(/\s+/)
  if (argv[0] !== 'node' || argv.at(-1) !== ORIGIN_ENTRY)
    throw new Error(`package.json start is not \`exec node [options] ${ORIGIN_ENTRY}\``)
  return argv.slice(1, -1)
}

export interface OriginAppDir {
  /** Plays the image's /app: run the origin with this as its working directory. */
  readonly dir: string
  /** Absolute path of `dist/entry/node.js` in `dir`. */
  readonly entry: string
  remove(): void
}

/**
 * Builds the origin into a new temporary /app-like directory; throws with tsc's output on failure.
 *
 * @example
 * const app = buildOriginAppDir()
 * spawn(process.execPath, [ORIGIN_ENTRY], { cwd: app.dir, env })
 * app.remove()
 */
export function buildOriginAppDir(): OriginAppDir {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-app-'))
  try {
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    const build = spawnSync(
      process.execPath,
      [
        '--experimental-strip-types',
        '--no-warnings=ExperimentalWarning',
        join(ROOT, 'scripts/build-package.ts'),
        '--runtime',
        `--out-dir=${join(dir, 'dist')}`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    )
    if (build.status !== 0)
      throw new Error(`build:origin exited ${String(build.status)}\n${build.stdout}${build.stderr}`)
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    dir,
    entry: join(dir, ORIGIN_ENTRY),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
