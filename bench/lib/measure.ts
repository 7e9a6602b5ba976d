/**
 * A small, careful timing loop (why not mitata: we want one sampling rule for every row, so p50/p99
 * mean the same thing for a 100 ns cache hit and a 1 ms RSA verify, and we want rows interleaved in
 * rounds so a burst of load on this shared 2-core machine hits every row alike).
 *
 * A sample is one op when an op takes at least {@link TARGET_SAMPLE_NS}; faster ops are timed in batches
 * of `batch` ops and the sample is the batch mean (one timer read costs ~30 ns, which would swamp a
 * sub-microsecond op). ops/s is total ops over total timed wall time. Async ops are awaited one at a
 * time, as a request handler would.
 */
export interface Measurement {
  opsPerSec: number
  meanNs: number
  p50Ns: number
  p99Ns: number
  /** Ops per sample: 1 means p50/p99 are true per-op latencies. */
  batch: number
  ops: number
  totalMs: number
  /** Per-op nanoseconds of each sample, sorted ascending. */
  samplesNs: number[]
}

export interface MeasureOptions {
  warmupMs?: number
  timeMs?: number
  /** Reuse a batch size from an earlier round instead of calibrating again. */
  batch?: number
}

const TARGET_SAMPLE_NS = 20_000
const MAX_BATCH = 1 << 16

type Op = () => unknown

export async function measure(op: Op, options: MeasureOptions = {}): Promise<Measurement> {
  const warmupMs = options.warmupMs ?? 300
  const timeMs = options.timeMs ?? 1000
  const first = op()
  const isAsync = first instanceof Promise
  if (isAsync) await first
  const run = isAsync ? asyncBatch : syncBatch

  // Warm-up doubles as calibration of the batch size.
  let batch = options.batch ?? 1
  let bestPerOpNs = Infinity
  const warmEnd = performance.now() + warmupMs
  while (performance.now() < warmEnd) {
    const t0 = performance.now()
    await run(op, batch)
    const perOpNs = ((performance.now() - t0) * 1e6) / batch
    bestPerOpNs = Math.min(bestPerOpNs, perOpNs)
    if (options.batch === undefined && perOpNs * batch < TARGET_SAMPLE_NS && batch < MAX_BATCH) {
      batch *= 2
    }
  }
  if (options.batch === undefined) {
    batch = Math.max(1, Math.min(MAX_BATCH, Math.ceil(TARGET_SAMPLE_NS / bestPerOpNs)))
  }

  const samplesNs: number[] = []
  let totalMs = 0
  while (totalMs < timeMs) {
    const t0 = performance.now()
    await run(op, batch)
    const elapsed = performance.now() - t0
    totalMs += elapsed
    samplesNs.push((elapsed * 1e6) / batch)
  }
  return summarise(samplesNs, batch, totalMs)
}

/** Pools the samples of several rounds of the same row. */
export function merge(rounds: readonly Measurement[]): Measurement {
  const samplesNs = rounds.flatMap((r) => r.samplesNs)
  const ops = rounds.reduce((n, r) => n + r.ops, 0)
  const totalMs = rounds.reduce((n, r) => n + r.totalMs, 0)
  const result = summarise(samplesNs, rounds[0]?.batch ?? 1, totalMs)
  return { ...result, ops, opsPerSec: ops / (totalMs / 1000), meanNs: (totalMs * 1e6) / ops }
}

function summarise(samplesNs: number[], batch: number, totalMs: number): Measurement {
  samplesNs.sort((a, b) => a - b)
  const ops = samplesNs.length * batch
  return {
    opsPerSec: ops / (totalMs / 1000),
    meanNs: (totalMs * 1e6) / ops,
    p50Ns: percentile(samplesNs, 0.5),
    p99Ns: percentile(samplesNs, 0.99),
    batch,
    ops,
    totalMs,
    samplesNs,
  }
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}

let sink: unknown
function syncBatch(op: Op, n: number): void {
  for (let i = 0; i < n; i++) sink = op()
}

async function asyncBatch(op: Op, n: number): Promise<void> {
  for (let i = 0; i < n; i++) sink = await op()
}

/** Keeps results observable so the optimiser cannot drop the work. */
export function lastResult(): unknown {
  return sink
}
