/**
 * Interleaved A/B timing for in-process ops whose difference is a few percent (the tenancy scale
 * rows): every row runs the same number of ops per slice, the rows of a round run back to back in an
 * order that rotates and reverses from round to round (so no row always follows the same one or
 * always runs first after a pause).
 * A ratio of two rows is the median over rounds of the per-round ratio, so a burst of load from
 * elsewhere on the shared machine falls on both sides of one round's ratio and moves the median
 * little. Three clocks per slice: wall time; the process's CPU time (user + system), which leaves
 * out the time the process waited for a core; and the request threads' CPU time (`threadNs`: the
 * main thread and libuv's pool, where WebCrypto verifies), read from Linux's per-thread schedstat
 * (ns). The last leaves out V8's helper threads too, whose concurrent GC marking of the one heap all
 * rows share lands in whichever slice it happens to run in; it equals `cpuNs` where /proc is absent.
 *
 * @example
 * const run = await interleave({ a: opA, b: opB }, { rounds: 15, sliceMs: 150 })
 * ratio(run, 'b', 'a', 'threadNs') // baseline cost / row cost: 1 is equal, below 1 the row costs more
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'

export interface Slice {
  wallNs: number
  cpuNs: number
  threadNs: number
}

export interface InterleavedRun {
  /** Ops per slice, per row (calibrated once, then fixed). */
  opsPerSlice: Record<string, number>
  /** Per row, per round: ns per op. */
  slices: Record<string, Slice[]>
}

type Op = () => unknown

/**
 * The schedstat files of this process's main thread and libuv pool threads (Linux), found once the
 * pool exists; empty elsewhere.
 */
function requestThreads(): string[] {
  const dir = '/proc/self/task'
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((tid) => {
    const name = readFileSync(`${dir}/${tid}/comm`, 'utf8').trim()
    const main = Number(tid) === process.pid
    return main || name === 'libuv-worker' ? [`${dir}/${tid}/schedstat`] : []
  })
}

/** Run time in ns of the given threads (schedstat's first field), or undefined without them. */
function threadsNs(files: readonly string[]): number | undefined {
  if (files.length === 0) return undefined
  let ns = 0
  for (const file of files) ns += Number(readFileSync(file, 'utf8').split(' ')[0])
  return ns
}

async function runOps(op: Op, n: number, threads: readonly string[] = []): Promise<Slice> {
  const thread0 = threadsNs(threads)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await op()
  const wallNs = ((performance.now() - t0) * 1e6) / n
  const cpu = process.cpuUsage(cpu0)
  const thread1 = threadsNs(threads)
  const cpuNs = ((cpu.user + cpu.system) * 1e3) / n
  const threadNs = thread0 === undefined || thread1 === undefined ? cpuNs : (thread1 - thread0) / n
  return { wallNs, cpuNs, threadNs }
}

export async function interleave(
  rows: Record<string, Op>,
  options: { rounds: number; sliceMs: number; warmupSlices?: number },
): Promise<InterleavedRun> {
  const ids = Object.keys(rows)
  const opsPerSlice: Record<string, number> = {}
  for (const id of ids) {
    const op = rows[id] as Op
    // Calibrate on the fastest of three short runs: one run slowed by another process must not
    // shrink the slice. Also warms the row up.
    let best = Infinity
    for (let i = 0; i < 3; i++) best = Math.min(best, (await runOps(op, 256)).wallNs)
    opsPerSlice[id] = Math.max(1, Math.round((options.sliceMs * 1e6) / best))
  }
  for (let w = 0; w < (options.warmupSlices ?? 1); w++)
    for (const id of ids) await runOps(rows[id] as Op, opsPerSlice[id] as number)
  const threads = requestThreads()
  const slices: Record<string, Slice[]> = Object.fromEntries(ids.map((id) => [id, []]))
  for (let round = 0; round < options.rounds; round++) {
    const k = round % ids.length
    const order = [...ids.slice(k), ...ids.slice(0, k)]
    if (round % 2 === 1) order.reverse()
    for (const id of order) {
      slices[id]?.push(await runOps(rows[id] as Op, opsPerSlice[id] as number, threads))
    }
  }
  return { opsPerSlice, slices }
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * `base`'s cost per op over `row`'s, the median of the rounds' ratios: 1 is the same cost, below 1
 * `row` costs more (as an ops/s ratio would read).
 */
export function ratio(run: InterleavedRun, row: string, base: string, clock: keyof Slice): number {
  const a = run.slices[base] ?? []
  const b = run.slices[row] ?? []
  return median(a.map((s, i) => s[clock] / (b[i]?.[clock] ?? NaN)))
}

/** A row's median ns per op over the rounds. */
export const perOp = (run: InterleavedRun, row: string, clock: keyof Slice): number =>
  median((run.slices[row] ?? []).map((s) => s[clock]))
