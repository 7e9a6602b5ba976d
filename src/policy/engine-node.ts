/**
 * The Cedar engine for Node (origin, gateway on Node, CLI, tests): the package's `nodejs` build, which
 * reads and compiles its .wasm synchronously when required. Required on first use only, so a process
 * that never decides a policy never pays for it.
 */
import { createRequire } from 'node:module'
import type { CedarModule } from './engine.ts'

let engine: CedarModule | undefined

/**
 * The Node build of `@cedar-policy/cedar-wasm`, loaded once per process on the first call.
 *
 * @example
 * const engine = loadNodeCedar()
 * engine.getCedarVersion() // '4.13.0'
 */
export function loadNodeCedar(): CedarModule {
  // The nodejs build is CommonJS; `require` keeps loading synchronous (the loaders' contract).
  engine ??= createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as CedarModule
  return engine
}
