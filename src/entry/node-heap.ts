/**
 * The origin's old-generation growth policy. After each full GC V8 lets the old generation grow to
 * a limit of up to ~4× what survived before collecting again (the factor adapts to GC and mutator
 * speed). Under load, objects that live across an await (a forwarded request's undici state, a
 * cold token's L1 entry) are promoted faster than they die, so the old generation fills with garbage
 * up to that limit: the origin's peak RSS reached 223–331 MiB under `npm run bench:http` while its
 * live heap stayed at 30–40 MiB (issue 15). A growing factor of 1.3 collects sooner: full GCs come
 * more often but each has ~35 MiB to mark (~5–20 ms here), about 1–2 per second under the gateway's
 * load. An operator's own `--heap-growing-percent` on the command line wins.
 *
 * @example applyHeapGrowthPolicy() // first thing in the Node entry
 */
import { setFlagsFromString } from 'node:v8'

/** The old generation may grow to 1.3× what the last full GC kept. */
export const HEAP_GROWING_PERCENT = 30

/**
 * The V8 flag to set, or `undefined` when the process was started with its own.
 *
 * @example heapGrowthFlag(process.execArgv) // '--heap-growing-percent=30'
 */
export function heapGrowthFlag(execArgv: readonly string[]): string | undefined {
  const own = execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))
  return own ? undefined : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`
}

/** Sets the growing factor for this process (V8 reads it at every heap limit computation). */
export function applyHeapGrowthPolicy(): void {
  const flag = heapGrowthFlag(process.execArgv)
  if (flag !== undefined) setFlagsFromString(flag)
}
