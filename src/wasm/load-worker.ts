// test/workers/tsconfig.json does not include src/, so the .wasm module type comes in by reference.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- ambient module declaration
/// <reference path="./wasm-module.d.ts" />
// Workers entry of the filter backend loader: workerd cannot compile WebAssembly from bytes at run
// time, so the kernel arrives as a module import that wrangler compiles at upload.

import sbbfModule from './build/sbbf.wasm'
import type { SbbfBackend } from '../revocation/filter-backend.ts'
import { selectSbbfBackend } from './instantiate.ts'

/**
 * The filter backend for a Worker: the WebAssembly SIMD kernel from the bundled sbbf.wasm.
 *
 * @example
 * const filter = createRevocationFilter({ expectedItems: 1e6, backend: loadSbbfBackend() })
 * filter.implementation // 'wasm-simd'
 */
export function loadSbbfBackend(): SbbfBackend {
  return selectSbbfBackend(sbbfModule)
}
