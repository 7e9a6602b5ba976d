/**
 * The workerd half of the verify benchmark: bundles bench/workerd/verify-worker.ts with esbuild, runs
 * it in workerd through Miniflare (both come with wrangler), and times requests from outside, since a
 * Worker's clock does not advance while it computes. Each sample is one request running `n` ops of a
 * row; the per-op time is (request time − median empty-request time) / n.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'
import type { Measurement } from './measure.ts'

export interface WorkerdResult {
  workerd: string
  /** Rows during whose requests `performance.now()` inside the Worker moved (no fetch or other I/O). */
  clockAdvancedIn: string[]
  emptyRequestUs: number
  rows: Map<string, Measurement>
}

export interface WorkerdBenchOptions {
  pools: Record<string, string[]>
  jwks: unknown
  issuer: string
  audience: string
  compatibilityDate: string
  rounds: number
  requestsPerRound: number
  /** Aim for requests of about this long, so the request overhead is a small, subtracted part. */
  targetRequestMs: number
}

const WORKER = new URL('../workerd/verify-worker.ts', import.meta.url).pathname

export async function runWorkerdBench(options: WorkerdBenchOptions): Promise<WorkerdResult> {
  // Inside the project: Miniflare names modules relative to the working directory and refuses `..`.
  const cacheDir = join(process.cwd(), 'node_modules', '.cache')
  mkdirSync(cacheDir, { recursive: true })
  const dir = mkdtempSync(join(cacheDir, 'gatehouse-bench-'))
  const scriptPath = join(dir, 'verify-worker.js')
  await build({
    entryPoints: [WORKER],
    outfile: scriptPath,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    logLevel: 'error',
  })
  // Miniflare 5 (beta, pinned by wrangler) still accepts the v4 option shape through this converter.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      scriptPath,
      compatibilityDate: options.compatibilityDate,
    }),
  )
  try {
    const base = await mf.ready
    const call = async (path: string, init?: RequestInit) => {
      const response = await mf.dispatchFetch(new URL(path, base), init as never)
      if (!response.ok)
        throw new Error(`workerd ${path}: ${response.status} ${await response.text()}`)
      return (await response.json()) as Record<string, unknown>
    }
    const { rows: ids } = (await call('/setup', {
      method: 'POST',
      body: JSON.stringify({
        pools: options.pools,
        jwks: options.jwks,
        issuer: options.issuer,
        audience: options.audience,
      }),
    })) as { rows: string[] }

    const timed = async (row: string, n: number) => {
      const t0 = performance.now()
      const body = await call(`/run?row=${encodeURIComponent(row)}&n=${n}`)
      return { ms: performance.now() - t0, clockAdvancedMs: body.clockAdvancedMs as number }
    }
    const first = ids[0] as string
    for (let i = 0; i < 20; i++) await timed(first, 0)
    const empty: number[] = []
    for (let i = 0; i < 41; i++) empty.push((await timed(first, 0)).ms)
    empty.sort((a, b) => a - b)
    const overheadMs = empty[20] as number

    // Calibrate n per row; this also warms each row up. The fastest per-op time seen wins, so one
    // request slowed by another process cannot shrink n to a size the request overhead swamps.
    const n = new Map<string, number>()
    const clockAdvanced = new Set<string>()
    for (const row of ids) {
      let ops = 16
      let bestPerOpMs = Infinity
      for (let attempt = 0; attempt < 8; attempt++) {
        const { ms, clockAdvancedMs } = await timed(row, ops)
        if (clockAdvancedMs > 0) clockAdvanced.add(row)
        bestPerOpMs = Math.min(bestPerOpMs, Math.max(ms - overheadMs, 0.01) / ops)
        const done = attempt >= 2 && ms - overheadMs >= options.targetRequestMs
        ops = Math.min(1 << 22, Math.max(16, Math.ceil(options.targetRequestMs / bestPerOpMs)))
        if (done) break
      }
      n.set(row, ops)
    }

    const samples = new Map<string, number[]>(ids.map((id) => [id, []]))
    const totals = new Map<string, { ops: number; ms: number }>(
      ids.map((id) => [id, { ops: 0, ms: 0 }]),
    )
    for (let round = 0; round < options.rounds; round++) {
      for (const row of ids) {
        const ops = n.get(row) as number
        for (let i = 0; i < options.requestsPerRound; i++) {
          const { ms, clockAdvancedMs } = await timed(row, ops)
          if (clockAdvancedMs > 0) clockAdvanced.add(row)
          const net = Math.max(ms - overheadMs, 0)
          samples.get(row)?.push((net * 1e6) / ops)
          const total = totals.get(row) as { ops: number; ms: number }
          total.ops += ops
          total.ms += net
        }
      }
    }

    const rows = new Map<string, Measurement>()
    for (const row of ids) {
      const s = (samples.get(row) as number[]).sort((a, b) => a - b)
      const { ops, ms } = totals.get(row) as { ops: number; ms: number }
      rows.set(row, {
        opsPerSec: ops / (ms / 1000),
        meanNs: (ms * 1e6) / ops,
        p50Ns: s[Math.floor(s.length / 2)] as number,
        p99Ns: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] as number,
        batch: n.get(row) as number,
        ops,
        totalMs: ms,
        samplesNs: s,
      })
    }
    return {
      workerd: await workerdVersion(),
      clockAdvancedIn: ids.filter((id) => clockAdvanced.has(id)),
      emptyRequestUs: overheadMs * 1000,
      rows,
    }
  } finally {
    await mf.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function workerdVersion(): Promise<string> {
  try {
    const pkg = await import('workerd/package.json', { with: { type: 'json' } })
    return (pkg.default as { version: string }).version
  } catch {
    return 'unknown'
  }
}
