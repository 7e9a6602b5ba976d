/**
 * The origin's heap settings (issue 15 item 6: peak RSS under `npm run bench:http` ≤ 160 MiB).
 *
 * Old generation: after each full GC V8 lets the old generation grow to a limit of up to ~4× what
 * survived before collecting again (the factor adapts to GC and mutator speed). Under load, objects
 * that live across an await (a forwarded request's undici state, a cold token's L1 entry) are
 * promoted faster than they die, so the old generation fills with garbage up to that limit: the
 * origin's peak RSS reached 223–331 MiB under `npm run bench:http` while its live heap stayed at
 * 30–40 MiB. A growing factor of 1.3 collects sooner: full GCs come more often but each has ~35 MiB
 * to mark (~5–20 ms here), about 1–2 per second under the gateway's load. Set here, at start
 * (V8 reads it at every heap limit computation). An operator's own `--heap-growing-percent` on the
 * command line wins.
 *
 * Young generation: left at V8's default (16 MiB semi-spaces here). V8 sizes it when the heap is set
 * up, so `--max-semi-space-size` works only on the command line (`npm start`, which the image's
 * ENTRYPOINT copies; tests and benches take `npm start`'s options through `originNodeOptions()`):
 * `setFlagsFromString` after start leaves the new space as it was (checked), and V8 rounds the value
 * to a power of two (12 and 10 act as 16, 6 as 8). Measured as a pair (2026-12-07, load 5–12):
 * `npm run bench:http -- --no-workerd --no-memory`, one run each, peak RSS: 16 MiB / 1.3× 156.4 MiB;
 * 8 / 1.3× 141.3 and 144.4; 4 / 1.3× 134.3; 8 / 2× 170.9; 4 / 2× 168.8 (8 / 1.5× 156.3, beside
 * another run).
 * So a smaller young generation does not let the growing factor go back up (it promotes more; the
 * old generation's slack is what the peak is made of). And it costs CPU: interleaved at saturation
 * (bench/cpu-per-request.ts rows, 5 rounds of 4 s), 8 MiB against 16 MiB, both at 1.3×: /noop 33 vs
 * 31 µs, /verify L1 39 vs 36, gateway 477 vs 395 µs per request (peak 123 vs 142 MiB). With the
 * verifier loading only its own modules (node-server.ts) the default pair already keeps the peak
 * under the 160 MiB target (151–154 MiB, docs/benchmarks.md), so the CPU stays with the gateway.
 *
 * Native memory (glibc's malloc): every thread that allocates gets a malloc arena of its own (up to
 * 8 per core), and an arena keeps the pages its peak left behind. V8's helper threads (concurrent
 * marking, parallel scavenges, the optimising compilers' zones) each fill one: malloc held 18–22
 * MiB at the origin's peak under the bench:http Node rows (the main heap plus ~12–15 MiB of thread
 * arenas). With at most two arenas (`MALLOC_ARENA_MAX=2`) freed memory is reused across threads:
 * 16.7–19.4 MiB at the peak, i.e. ~2–5 MiB less peak RSS (2026-12-07, load 5–10, ad-hoc drives in
 * docs/benchmarks.md, round 10; no CPU cost measured). glibc reads the variable once,
 * when the process starts, so the entry re-executes itself with it (`process.execve`: same PID,
 * argv and Node options; before any module of the app is loaded, so nothing is done twice) when the
 * environment does not set it. An operator's own `MALLOC_ARENA_MAX` wins; other C libraries (musl)
 * ignore it; a Node without `process.execve` (before 22.15) runs without it.
 *
 * @example applyMemoryPolicies() // the first thing in the Node entry
 */
import { setFlagsFromString } from 'node:v8'

/** At most this many glibc malloc arenas (`MALLOC_ARENA_MAX`). */
export const MALLOC_ARENA_MAX = '2'

/**
 * The environment to re-execute the process with, or `undefined` when it needs no re-execution:
 * the variable is set already (by the operator, or by our own re-execution), or the platform is not
 * Linux (glibc's variable; macOS and Windows have other allocators).
 *
 * @example mallocArenaEnv({ PATH: '/bin' }, 'linux') // { PATH: '/bin', MALLOC_ARENA_MAX: '2' }
 */
export function mallocArenaEnv(
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform,
): Record<string, string | undefined> | undefined {
  if (platform !== 'linux' || env.MALLOC_ARENA_MAX !== undefined) return undefined
  return { ...env, MALLOC_ARENA_MAX }
}

/**
 * Replaces this process with itself under `MALLOC_ARENA_MAX` (see above) when that is needed and
 * possible; otherwise returns. Call it first, before the app's modules are imported.
 */
export function applyMallocArenaPolicy(): void {
  const env = mallocArenaEnv(process.env, process.platform)
  if (env === undefined || typeof process.execve !== 'function') return
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    env,
  )
}

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

/**
 * Both policies, in their order: the malloc arenas first (it may re-execute the process, and then
 * nothing after it has run yet), then the heap growth. Call it before the app's modules are imported.
 */
export function applyMemoryPolicies(): void {
  applyMallocArenaPolicy()
  applyHeapGrowthPolicy()
}
