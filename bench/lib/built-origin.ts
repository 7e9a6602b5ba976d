/**
 * The benchmarks start the origin as the image does: JavaScript from `npm run build:origin`, in a
 * directory laid out as the image's /app (scripts/origin-app-dir.ts), built from src/ once per bench
 * process and removed when it exits. Not src/ through Node's type stripping: that loads Node's
 * TypeScript stripper (swc as WebAssembly) into the measured process, ~35 MiB of RSS that production
 * does not have (docs/benchmarks.md).
 */
import { mkdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { buildOriginAppDir, type OriginAppDir } from '../../scripts/origin-app-dir.ts'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = join(ROOT, 'src')

let app: OriginAppDir | undefined

/**
 * This bench process's built origin (built on first use).
 *
 * @example spawn(process.execPath, [ORIGIN_ENTRY], { cwd: builtOriginApp().dir })
 */
export function builtOriginApp(): OriginAppDir {
  if (app === undefined) {
    const built = buildOriginAppDir()
    process.once('exit', () => built.remove())
    app = built
  }
  return app
}

/**
 * A bench server script that assembles the origin from src/ modules (bench/lib/http-node-origin.ts),
 * as JavaScript over the built ones: its own code compiled by esbuild, every `src/…/x.ts` it reaches
 * replaced by the build's `dist/…/x.js` (the very files the image runs), packages left to Node.
 * Returns the path of the `.js` file, inside the built /app.
 *
 * @example spawn(process.execPath, [await builtScript('bench/lib/http-node-origin.ts')])
 */
export async function builtScript(script: string): Promise<string> {
  const { dir } = builtOriginApp()
  const source = resolve(ROOT, script)
  const outfile = join(
    dir,
    'bench',
    `${relative(join(ROOT, 'bench'), source).replace(/\.ts$/, '')}.js`,
  )
  mkdirSync(dirname(outfile), { recursive: true })
  const srcToDist: Plugin = {
    name: 'src-to-dist',
    setup(context) {
      context.onResolve({ filter: /^\.{1,2}\// }, (args) => {
        const path = resolve(args.resolveDir, args.path)
        if (!path.startsWith(`${SRC}/`)) return undefined
        const built = join(dir, 'dist', relative(SRC, path).replace(/\.ts$/, '.js'))
        return { path: `./${relative(dirname(outfile), built)}`, external: true }
      })
    },
  }
  await build({
    entryPoints: [source],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    plugins: [srcToDist],
    logLevel: 'error',
  })
  return outfile
}
