// test/workers/tsconfig.json does not include src/, so the .wasm module type comes in by reference.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- ambient module declaration
/// <reference path="../wasm/wasm-module.d.ts" />
/**
 * The Cedar engine for a Worker: the package's `web` build, instantiated with `initSync` from the
 * .wasm that wrangler bundles as a compiled module (workerd cannot compile WebAssembly from bytes at
 * run time). The package's `exports` do not list the .wasm; wrangler resolves it by path, and the
 * vitest `workers` project through an alias (vitest.config.ts).
 *
 * Cost, measured (docs/policy.md, "Cost at the edge"): the bundle grows by the 4.3 MB .wasm, and
 * workerd compiles every .wasm module of a Worker when it loads the script, imported or not, so only
 * the Worker entry that imports this file pays at isolate start; `initSync` itself runs on the first
 * decision.
 */
import cedarWasm from '@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm'
import * as cedar from '@cedar-policy/cedar-wasm/web'
import type { CedarModule } from './engine.ts'

let ready = false

/**
 * The web build of `@cedar-policy/cedar-wasm`, instantiated once per isolate on the first call.
 *
 * @example
 * const engine = loadWorkerCedar()
 * engine.getCedarVersion() // '4.13.0'
 */
export function loadWorkerCedar(): CedarModule {
  if (!ready) {
    cedar.initSync({ module: cedarWasm })
    ready = true
  }
  return cedar
}
