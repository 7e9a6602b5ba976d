/**
 * `npm run build` (and `npm pack`, through `prepack`): compiles src/ to dist/ as the published
 * package ships it — ES modules plus `.d.ts` files — and copies the WebAssembly filter kernel next to
 * its Node loader (dist/wasm/build/sbbf.wasm, read relative to dist/wasm/load-node.js).
 *
 * tsc rewrites `./x.ts` imports to `./x.js` in the JavaScript it emits
 * (`rewriteRelativeImportExtensions`) but keeps them as written in declaration files; those are
 * rewritten here so a consumer's TypeScript of any resolution mode reads plain `.js` specifiers.
 * dist/spa (`npm run build:spa`) is left alone and is not part of the package.
 *
 * `--runtime` (`npm run build:origin`, run by `npm start` and the production image): the same
 * JavaScript and WebAssembly kernel, without declaration files and without type checking (tsc's
 * `noCheck`: the emitted JavaScript is byte for byte the package build's; `npm run typecheck` and CI
 * check the types). `--out-dir=<dir>` writes somewhere other than dist/ (the tests' and benchmarks'
 * copy of the image's /app, scripts/origin-app-dir.ts), so they never race `npm start` or the package
 * tests over the repository's dist/.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const RUNTIME = process.argv.includes('--runtime')
const OUT_DIR = process.argv.find((a) => a.startsWith('--out-dir='))?.slice('--out-dir='.length)
const DIST = OUT_DIR === undefined ? join(ROOT, 'dist') : resolve(OUT_DIR)
const WASM = 'wasm/build/sbbf.wasm'
const BIN = 'cli/gatehouse.js'

/** Relative specifiers ending in `.ts` inside `from '…'`, `import('…')` and `import '…'`. */
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  )
}

for (const entry of existsSync(DIST) ? readdirSync(DIST) : []) {
  if (entry !== 'spa') rmSync(join(DIST, entry), { recursive: true, force: true })
}

const tsc = spawnSync(
  process.execPath,
  [
    join(ROOT, 'node_modules/typescript/bin/tsc'),
    ...['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', DIST],
    ...(RUNTIME ? ['--declaration', 'false', '--noCheck'] : []),
  ],
  { stdio: 'inherit' },
)
if (tsc.status !== 0) process.exit(tsc.status ?? 1)

let rewritten = 0
for (const file of filesUnder(DIST).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(file, 'utf8')
  const next = text.replace(TS_SPECIFIER, '$1$2.js$3')
  if (next !== text) {
    writeFileSync(file, next)
    rewritten++
  }
}

const wasmSource = join(ROOT, 'src', WASM)
if (!existsSync(wasmSource)) {
  console.error(`build: ${wasmSource} is missing; run \`npm run build:wasm\` first`)
  process.exit(1)
}
mkdirSync(join(DIST, dirname(WASM)), { recursive: true })
copyFileSync(wasmSource, join(DIST, WASM))
chmodSync(join(DIST, BIN), 0o755)

console.error(
  RUNTIME
    ? `build: ${DIST} written (JavaScript only)`
    : `build: ${DIST} written (${rewritten} declaration files with .ts imports rewritten)`,
)
