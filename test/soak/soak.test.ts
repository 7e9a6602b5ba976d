/**
 * Soak: the real stack (test/support/stack.ts: edge process, origin process, bridge, redis-server)
 * under a steady open-loop request rate for SOAK_SECONDS with a mix of verify (70%), client_credentials
 * (15%), refresh rotation (10%) and revoke (5%). Asserts zero errors (every answer 200) and a flat
 * memory line at the origin: once a second its live heap is read through the V8 inspector right after
 * a forced full GC, and its RSS from its own /metrics; after the warm-up the least-squares slope of
 * each must stay under the stated thresholds. Latency percentiles per kind are printed, and written to
 * bench/results/soak.json when SOAK_RESULTS=1.
 *
 * A measurement, not a correctness test: it asserts a request rate and memory slopes, which a busy
 * machine changes, so it is not part of `npm test`. Run it with `npm run test:soak` (5 minutes; set
 * SOAK_SECONDS for a shorter run) on a machine that is otherwise quiet.
 */
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browserFor,
  clientCredentials,
  refreshGrant,
  revokeToken,
  signInSpa,
  verifyToken,
  type Outcome,
} from '../support/oauth-http.ts'
import { connectInspector, type HeapProbe } from '../support/inspector.ts'
import { startStack, type Stack } from '../support/stack.ts'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 45)
const RATE = Number(process.env.SOAK_RPS ?? 60)
const WARMUP_SECONDS = Math.max(15, SECONDS * 0.25)
/**
 * Stated thresholds, MB per minute after warm-up: the live heap (after a forced full GC) within
 * 4 MB/min (a leak of 2 KB per request at 60 requests/s is 7 MB/min); RSS within 20 MB/min, asserted
 * only in runs of 2 minutes or more, because RSS keeps rising for the first minute or two as V8 and
 * malloc grow their arenas (28 MB/min over seconds 15-40 here, then flattening).
 */
const MAX_HEAP_SLOPE_MB_PER_MIN = 4
const MAX_RSS_SLOPE_MB_PER_MIN = 20
const RSS_ASSERTED_FROM_SECONDS = 120
const MAX_IN_FLIGHT = 64
const RESULTS = new URL('../../bench/results/soak.json', import.meta.url)

let stack: Stack
let probe: HeapProbe

beforeAll(async () => {
  // The production edge deadline (5 s): the soak measures a loaded, healthy stack, not faults.
  stack = await startStack({
    edgeEnv: { GATEHOUSE_ORIGIN_TIMEOUT_MS: '5000' },
    originNodeArgs: ['--inspect=127.0.0.1:0'],
  })
  probe = await connectInspector(() => stack.origin.stderr())
}, 60_000)

afterAll(async () => {
  probe?.close()
  await stack?.close()
}, 30_000)

interface Sample {
  t: number
  rss: number
  heap: number
}

async function sampleOrigin(): Promise<Sample | undefined> {
  try {
    // Full GC first: the heap number is what survives, and RSS is read right after it.
    const heap = await probe.liveHeapBytes()
    const text = await (
      await fetch(`${stack.origin.url}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text()
    const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1])
    return { t: performance.now() / 1000, rss, heap }
  } catch {
    return undefined
  }
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

describe('soak', () => {
  it(
    `holds ${RATE} requests/s for ${SECONDS} s with zero errors and flat memory`,
    async () => {
      const base = stack.edge.url
      const browser = browserFor(stack.origin.url)
      const families: { token: string; busy: boolean }[] = []
      for (let i = 0; i < 4; i++)
        families.push({
          token: (await signInSpa(stack.origin.url, browser)).refreshToken,
          busy: false,
        })
      const verifyTokens: string[] = []
      for (let i = 0; i < 8; i++) {
        const { body } = await clientCredentials(base)
        verifyTokens.push(body!.access_token as string)
      }
      const toRevoke: string[] = []

      const outcomes: Outcome[] = []
      const samples: Sample[] = []
      let inFlight = 0
      let skipped = 0
      let issued = 0
      const pending = new Set<Promise<void>>()
      const fire = (work: () => Promise<void>) => {
        if (inFlight >= MAX_IN_FLIGHT) {
          skipped += 1
          return
        }
        inFlight += 1
        const p = work().finally(() => {
          inFlight -= 1
          pending.delete(p)
        })
        pending.add(p)
      }
      const one = (n: number): void => {
        const r = n % 20 // 14 verify, 3 token, 2 refresh, 1 revoke per 20
        if (r < 14) {
          fire(async () => {
            outcomes.push((await verifyToken(base, verifyTokens[n % verifyTokens.length]!)).outcome)
          })
        } else if (r < 17) {
          fire(async () => {
            const { outcome, body } = await clientCredentials(base)
            outcomes.push(outcome)
            if (typeof body?.access_token === 'string' && toRevoke.length < 1000)
              toRevoke.push(body.access_token)
          })
        } else if (r < 19) {
          const family = families.find((f) => !f.busy)
          if (!family) return void (skipped += 1)
          family.busy = true
          fire(async () => {
            const { outcome, body } = await refreshGrant(base, family.token)
            outcomes.push(outcome)
            if (typeof body?.refresh_token === 'string') family.token = body.refresh_token
            family.busy = false
          })
        } else {
          const token = toRevoke.shift()
          if (token === undefined) return void (skipped += 1)
          fire(
            async () => outcomes.push((await revokeToken(base, token)).outcome) as unknown as void,
          )
        }
      }

      const start = performance.now()
      const end = start + SECONDS * 1000
      let sampling = false
      let nextSample = start
      // Open loop: requests are issued on schedule whether or not earlier ones have answered.
      while (performance.now() < end) {
        const due = Math.floor(((performance.now() - start) / 1000) * RATE)
        while (issued < due) one(issued++)
        if (performance.now() >= nextSample && !sampling) {
          nextSample += 1000
          sampling = true
          void sampleOrigin().then((s) => {
            sampling = false
            if (s) samples.push(s)
          })
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      await Promise.all(pending)
      const elapsed = (performance.now() - start) / 1000

      // Memory: after warm-up, neither the live heap nor RSS may trend upwards.
      const warm = samples.filter((x) => x.t - start / 1000 >= WARMUP_SECONDS)
      const mbPerMin = (bytesPerSecond: number) => (bytesPerSecond * 60) / 1024 / 1024
      const heapSlope = mbPerMin(slope(warm.map((x) => [x.t, x.heap])))
      const rssSlope = mbPerMin(slope(warm.map((x) => [x.t, x.rss])))

      const byOp: Record<string, unknown> = {}
      for (const op of ['verify', 'token', 'refresh', 'revoke']) {
        const ms = outcomes
          .filter((o) => o.op === op)
          .map((o) => o.ms)
          .sort((a, b) => a - b)
        byOp[op] = {
          count: ms.length,
          p50: +percentile(ms, 50).toFixed(2),
          p95: +percentile(ms, 95).toFixed(2),
          p99: +percentile(ms, 99).toFixed(2),
          max: +(ms.at(-1) ?? 0).toFixed(2),
        }
      }
      const errors = outcomes.filter((o) => o.status !== 200)
      const result = {
        seconds: +elapsed.toFixed(1),
        targetRps: RATE,
        achievedRps: +(outcomes.length / elapsed).toFixed(1),
        requests: outcomes.length,
        errors: errors.length,
        skipped,
        latencyMs: byOp,
        memory: {
          samples: samples.length,
          warmupSeconds: WARMUP_SECONDS,
          heapMbStart: +((warm[0]?.heap ?? 0) / 2 ** 20).toFixed(1),
          heapMbEnd: +((warm.at(-1)?.heap ?? 0) / 2 ** 20).toFixed(1),
          rssMbStart: +((warm[0]?.rss ?? 0) / 2 ** 20).toFixed(1),
          rssMbEnd: +((warm.at(-1)?.rss ?? 0) / 2 ** 20).toFixed(1),
          liveHeapSlopeMbPerMin: +heapSlope.toFixed(3),
          rssSlopeMbPerMin: +rssSlope.toFixed(3),
          thresholds: { heap: MAX_HEAP_SLOPE_MB_PER_MIN, rss: MAX_RSS_SLOPE_MB_PER_MIN },
        },
      }
      console.log(JSON.stringify(result, null, 2))
      if (process.env.SOAK_RESULTS === '1')
        await writeFile(
          RESULTS,
          `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`,
        )

      expect(errors.slice(0, 5).map((o) => `${o.op} ${o.status} ${o.error ?? ''}`)).toEqual([])
      expect(outcomes.length).toBeGreaterThan(RATE * SECONDS * 0.9)
      expect(warm.length).toBeGreaterThan(5)
      expect(heapSlope).toBeLessThan(MAX_HEAP_SLOPE_MB_PER_MIN)
      if (SECONDS >= RSS_ASSERTED_FROM_SECONDS)
        expect(rssSlope).toBeLessThan(MAX_RSS_SLOPE_MB_PER_MIN)
    },
    (SECONDS + 60) * 1000,
  )
})
