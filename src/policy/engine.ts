/**
 * The Cedar engine adapter: the few functions of `@cedar-policy/cedar-wasm` that Gatehouse calls,
 * behind one type both builds satisfy (the Node build at the origin and in the CLI, the web build
 * in the Worker; engine-node.ts and engine-worker.ts load them). Loading is lazy and happens once per
 * isolate: a route without policy never calls the loader, so it never instantiates the WebAssembly.
 *
 * Every call into the engine goes through `callEngine`: wasm-bindgen throws on input it cannot
 * deserialize and a Rust panic traps, and neither may escape as a crash of the request; both become
 * a failure the caller turns into a deny.
 */
// Types from the nodejs build: the same functions as the web build's, without its init types, which
// need the DOM and WebAssembly libs a Node-only consumer of the package does not have.
import type * as Cedar from '@cedar-policy/cedar-wasm/nodejs'

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  PolicyJson,
  SchemaJson,
} from '@cedar-policy/cedar-wasm/nodejs'

/** The functions of the Cedar WebAssembly module that Gatehouse uses. */
export type CedarModule = Pick<
  typeof Cedar,
  | 'getCedarVersion'
  | 'checkParseSchema'
  | 'schemaToJson'
  | 'policySetTextToParts'
  | 'policyToJson'
  | 'policyToText'
  | 'schemaToText'
  | 'validate'
  | 'preparsePolicySet'
  | 'statefulIsAuthorized'
>

/** Returns the engine, instantiating it on the first call. */
export type CedarEngineLoader = () => CedarModule

/** The engine threw or trapped: a failed call, never an exception for the caller. */
export interface EngineFailure {
  ok: false
  /** `Error.name` (e.g. `RuntimeError` for a trap); the message may quote input, so it is not kept. */
  errorName: string
}

/**
 * Runs `fn` against the engine and returns its result, or an `EngineFailure` when it throws.
 *
 * @example
 * const answer = callEngine(() => engine.checkParseSchema(text))
 * if ('ok' in answer) return deny()
 */
export function callEngine<T>(fn: () => T): T | EngineFailure {
  try {
    return fn()
  } catch (err) {
    return { ok: false, errorName: err instanceof Error ? err.name : typeof err }
  }
}

/** Whether `value` is the failure `callEngine` returns (engine answers never carry `ok: false`). */
export function isEngineFailure(value: unknown): value is EngineFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false
}

/**
 * Wraps a loader so the module is loaded at most once, on first use; a loader that throws is retried
 * on the next call (a broken install stays loud).
 *
 * @example
 * const engine = lazyEngine(() => loadNodeCedar())
 * engine() // instantiates here, on the first decision
 */
export function lazyEngine(load: CedarEngineLoader): CedarEngineLoader {
  let engine: CedarModule | undefined
  return () => (engine ??= load())
}

/**
 * Whether `text` is well-formed UTF-16 (no lone surrogate), the only strings the engine can hold
 * (ES2024 `isWellFormed`, in Node 22 and workerd; the project's lib is ES2023).
 *
 * @example wellFormed('\ud800') // false
 */
export const wellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed(): boolean }).isWellFormed()

/**
 * Whether every string in `value` (keys too) is well-formed UTF-16. The engine cannot hold a lone
 * surrogate: it throws, and after some 1,500 such calls its WebAssembly memory is corrupt for good
 * (every later call traps; measured with 4.13.0 on Node). A call that fails this is answered as the
 * engine would answer it (a failed call) without making it.
 *
 * @example engineCanHold({ roles: ['\ud800'] }) // false
 */
export function engineCanHold(value: unknown): boolean {
  if (typeof value === 'string') return wellFormed(value)
  if (typeof value !== 'object' || value === null) return true
  for (const key of Object.keys(value)) {
    if (!engineCanHold(key) || !engineCanHold((value as Record<string, unknown>)[key])) {
      return false
    }
  }
  return true
}
