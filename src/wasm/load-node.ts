// Node entry of the filter backend loader: reads src/wasm/build/sbbf.wasm from disk and compiles it.

import { readFileSync } from 'node:fs'
import type { SbbfBackend } from '../revocation/filter-backend.ts'
import { selectSbbfBackend } from './instantiate.ts'

const WASM_URL = new URL('./build/sbbf.wasm', import.meta.url)

let cached: SbbfBackend | undefined

/**
 * The filter backend for Node: the WebAssembly SIMD kernel, or the TypeScript fallback when this
 * runtime cannot validate a SIMD module. Throws when sbbf.wasm was never built (a broken install is
 * loud, not a silent slowdown). Compiled once per process.
 *
 * @example
 * const { filter } = loadRevocationFilter(snapshot, { backend: loadSbbfBackend() })
 */
export function loadSbbfBackend(): SbbfBackend {
  if (cached !== undefined) return cached
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = readFileSync(WASM_URL)
  } catch (cause) {
    throw new Error('src/wasm/build/sbbf.wasm is missing: run `npm run build:wasm`', { cause })
  }
  cached = selectSbbfBackend(
    WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : undefined,
  )
  return cached
}
