/**
 * Tenancy at scale (issue 16): what a tenant costs with 1 and with 10,000 tenants, in one run on one
 * machine. Prints tables and writes bench/results/tenancy.json; the headline lines (`summary`) are
 * what `npm run bench` tabulates, `details` holds every number.
 *
 * - Adding a tenant through `gatehouse tenants add`'s own code (src/cli/tenants.ts, the registry the
 *   admin API uses too) against the Upstash REST bridge on a real redis-server: every one of 10,000
 *   adds timed, p50 and p99 overall and for the first and the last 100 (bench/lib/tenancy-l2.ts).
 *   Skipped when redis-server is not installed. Also in process over the memory store: store
 *   commands per add (one Upstash round trip each).
 * - Per-request cost at the edge (Node, in process): the multi-tenant verifier on an L1 hit and cold
 *   (L1 off) with 1 tenant, with only the tenants the traffic touches (64 hot, 512 cold) and with
 *   10,000 registered; the same traffic shape in every row (64 hot tokens, 512 cold, same claims).
 *   Cold also with a revoked id in every tenant's filter (1 tenant vs 512), so the filters are
 *   probed (an empty filter is not). Rows interleaved in rounds after warm-up slices past the JIT's
 *   tiers (bench/lib/interleave.ts); a ratio is the median of the rounds' ratios, on the request
 *   threads' CPU time per op (main thread + libuv pool; the headline), on the process's CPU time
 *   and on wall time.
 * - L1 hit rate: the same traffic (1,000 distinct tokens, each verified 5 times) with 1 tenant and
 *   with every token from a different one of 10,000 tenants.
 * - Memory at the edge (Node heap after a full GC; needs `--expose-gc`): per tenant that verified
 *   once and sits idle (its context and its L1 entry), and per registered tenant the edge has heard
 *   of but never served (bench/lib/tenancy-memory.ts).
 * - The same scale questions in workerd, the edge Worker bundle under `workerd serve` over real L2
 *   (bench/lib/tenancy-workerd.ts).
 *
 * Run: `npm run bench:tenancy` (also part of `npm run bench`). `--quick` runs fewer rounds and adds.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { describeMachine } from './lib/machine.ts'
import { renderTable, us } from './lib/table.ts'
import { interleave, perOp, ratio, type InterleavedRun } from './lib/interleave.ts'
import { tenancyWorld, tokensOver } from './lib/tenancy-fixtures.ts'
import { edgeMemory } from './lib/tenancy-memory.ts'
import { addsAgainstUpstash } from './lib/tenancy-l2.ts'
import { tenancyInWorkerd } from './lib/tenancy-workerd.ts'
import { cycle } from './lib/tokens.ts'

const MANY = 10_000
const QUICK = process.argv.includes('--quick')
const HOT_TOKENS = 64
const COLD_TOKENS = 512
const RESULTS = new URL('./results/tenancy.json', import.meta.url)

const p = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}

function rotate(verifier: { verify(t: string): Promise<unknown> }, pool: readonly string[]) {
  const next = cycle(pool)
  return () => verifier.verify(next())
}

/** Per-request rows in Node: L1 hits and cold verifications, 1 vs few vs 10,000 tenants. */
async function perRequest() {
  const hot = {
    one: await tenancyWorld(1, { l1MaxEntries: 10_000 }),
    few: await tenancyWorld(HOT_TOKENS, { l1MaxEntries: 10_000 }),
    many: await tenancyWorld(MANY, { l1MaxEntries: 10_000 }),
  }
  const cold = {
    one: await tenancyWorld(1, { l1MaxEntries: 0 }),
    few: await tenancyWorld(COLD_TOKENS, { l1MaxEntries: 0 }),
    many: await tenancyWorld(MANY, { l1MaxEntries: 0 }),
    revokedOne: await tenancyWorld(1, { l1MaxEntries: 0, revokedPerTenant: 1 }),
    revokedFew: await tenancyWorld(COLD_TOKENS, { l1MaxEntries: 0, revokedPerTenant: 1 }),
  }
  // Same traffic shape: as many tokens, same claims, over 1 tenant or over one tenant each.
  const hotPool = {
    one: await tokensOver(1, HOT_TOKENS),
    spread: await tokensOver(HOT_TOKENS, HOT_TOKENS),
  }
  const coldPool = {
    one: await tokensOver(1, COLD_TOKENS),
    spread: await tokensOver(COLD_TOKENS, COLD_TOKENS),
  }
  const hotRows = {
    'hit-1': rotate(hot.one.verifier, hotPool.one),
    'hit-few': rotate(hot.few.verifier, hotPool.spread),
    'hit-many': rotate(hot.many.verifier, hotPool.spread),
  }
  const coldRows = {
    'cold-1': rotate(cold.one.verifier, coldPool.one),
    'cold-few': rotate(cold.few.verifier, coldPool.spread),
    'cold-many': rotate(cold.many.verifier, coldPool.spread),
    'cold-revoked-1': rotate(cold.revokedOne.verifier, coldPool.one),
    'cold-revoked-few': rotate(cold.revokedFew.verifier, coldPool.spread),
  }
  // Every tenant context the rows use is built (and every hot token cached) before timing.
  for (const [row, pool] of [
    [hotRows['hit-1'], hotPool.one],
    [hotRows['hit-few'], hotPool.spread],
    [hotRows['hit-many'], hotPool.spread],
    [coldRows['cold-1'], coldPool.one],
    [coldRows['cold-few'], coldPool.spread],
    [coldRows['cold-many'], coldPool.spread],
    [coldRows['cold-revoked-1'], coldPool.one],
    [coldRows['cold-revoked-few'], coldPool.spread],
  ] as const)
    for (let i = 0; i < pool.length; i++) await row()
  if (hot.many.verifier.stats().misses !== HOT_TOKENS) throw new Error('hot rows must only hit')
  const hits = await interleave(hotRows, {
    rounds: QUICK ? 7 : 41,
    sliceMs: 100,
    warmupSlices: QUICK ? 1 : 3,
  })
  const colds = await interleave(coldRows, {
    rounds: QUICK ? 5 : 21,
    sliceMs: 250,
    warmupSlices: QUICK ? 1 : 2,
  })
  if (hot.many.verifier.stats().misses !== HOT_TOKENS) throw new Error('hot rows must only hit')
  return { hits, colds, addsInMemory: hot.many.adds }
}

async function hitRate(tenants: number): Promise<number> {
  const w = await tenancyWorld(tenants, { l1MaxEntries: 10_000 })
  const pool = await tokensOver(tenants, 1000)
  for (let pass = 0; pass < 5; pass++) for (const t of pool) await w.verifier.verify(t)
  const s = w.verifier.stats()
  return s.hits / (s.hits + s.misses)
}

async function main(): Promise<void> {
  const startedAt = Date.now()
  const machine = describeMachine()
  console.log(`tenancy bench on ${machine.cpuModel} (${machine.cores} cores), Node ${machine.node}`)
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )

  const l2Adds = await addsAgainstUpstash(QUICK ? 1000 : MANY)
  const { hits, colds, addsInMemory } = await perRequest()
  const hitOne = await hitRate(1)
  const hitMany = await hitRate(MANY)
  const memory = await edgeMemory(QUICK ? 1000 : MANY)

  if (l2Adds) {
    console.log(
      `\nAdding a tenant: \`gatehouse tenants add\` code → Upstash REST bridge → redis-server (${l2Adds.adds.length} adds, one after another)`,
    )
    console.log(
      renderTable(
        ['adds', 'p50 ms', 'p99 ms', 'max ms'],
        l2Adds.buckets.map((b) => [b.name, b.p50.toFixed(2), b.p99.toFixed(2), b.max.toFixed(2)]),
      ),
    )
  } else console.log('\nAdding a tenant against real L2: skipped (no redis-server)')
  const commandsPerAdd = p(
    addsInMemory.map((a) => a.commands),
    0.5,
  )
  console.log(
    `store commands per add (registry.add + its key set), memory store: ${commandsPerAdd}`,
  )

  const table = (run: InterleavedRun, names: Record<string, string>) =>
    renderTable(
      ['row', 'request CPU µs/op', 'process CPU µs/op', 'wall µs/op', 'ops per slice'],
      Object.entries(names).map(([id, name]) => [
        name,
        us(perOp(run, id, 'threadNs')),
        us(perOp(run, id, 'cpuNs')),
        us(perOp(run, id, 'wallNs')),
        String(run.opsPerSlice[id]),
      ]),
    )
  console.log(
    `\nVerification at the edge (Node, in process; medians of ${hits.slices['hit-1']?.length} interleaved rounds)`,
  )
  console.log(
    table(hits, {
      'hit-1': 'L1 hit, 1 tenant',
      'hit-few': `L1 hit, ${HOT_TOKENS} tenants, traffic over all`,
      'hit-many': `L1 hit, ${MANY} tenants, traffic over ${HOT_TOKENS}`,
    }),
  )
  console.log(
    table(colds, {
      'cold-1': 'cold (L1 off), 1 tenant',
      'cold-few': `cold (L1 off), ${COLD_TOKENS} tenants, traffic over all`,
      'cold-many': `cold (L1 off), ${MANY} tenants, traffic over ${COLD_TOKENS}`,
      'cold-revoked-1': 'cold, 1 tenant with a revoked id (filter probed)',
      'cold-revoked-few': `cold, ${COLD_TOKENS} tenants each with a revoked id, traffic over all`,
    }),
  )
  const clocks = (run: InterleavedRun, row: string, base: string) => ({
    thread: ratio(run, row, base, 'threadNs'),
    cpu: ratio(run, row, base, 'cpuNs'),
    wall: ratio(run, row, base, 'wallNs'),
  })
  const ratios = {
    l1Hit: clocks(hits, 'hit-many', 'hit-1'),
    l1HitSameTraffic: clocks(hits, 'hit-many', 'hit-few'),
    l1HitSpread: clocks(hits, 'hit-few', 'hit-1'),
    cold: clocks(colds, 'cold-many', 'cold-1'),
    coldSameTraffic: clocks(colds, 'cold-many', 'cold-few'),
    coldRevoked: clocks(colds, 'cold-revoked-few', 'cold-revoked-1'),
  }
  const f = (r: { thread: number; cpu: number; wall: number }) =>
    `request CPU ${r.thread.toFixed(3)}, process CPU ${r.cpu.toFixed(3)}, wall ${r.wall.toFixed(3)}`
  console.log(
    `\ncost ratio (1 tenant's cost / the row's; below 1 the row costs more), median of rounds:`,
  )
  console.log(`  L1 hit, ${MANY} tenants vs 1:                          ${f(ratios.l1Hit)}`)
  console.log(
    `  L1 hit, ${HOT_TOKENS} tenants vs 1 (spread alone):               ${f(ratios.l1HitSpread)}`,
  )
  console.log(
    `  L1 hit, ${MANY} vs only the ${HOT_TOKENS} the traffic touches:    ${f(ratios.l1HitSameTraffic)}`,
  )
  console.log(`  cold, ${MANY} tenants vs 1:                            ${f(ratios.cold)}`)
  console.log(
    `  cold, ${MANY} vs only the ${COLD_TOKENS} the traffic touches:     ${f(ratios.coldSameTraffic)}`,
  )
  console.log(
    `  cold, revoked ids in every filter, ${COLD_TOKENS} tenants vs 1:   ${f(ratios.coldRevoked)}`,
  )
  console.log(
    `L1 hit rate (1,000 tokens × 5): 1 tenant ${hitOne.toFixed(3)}, ${MANY} tenants ${hitMany.toFixed(3)} (ratio ${(hitMany / hitOne).toFixed(3)})`,
  )
  if (memory) {
    console.log(`\nMemory at the edge (Node heap after a full GC, ${memory.tenants} tenants)`)
    console.log(
      `  per tenant that verified once, then idle: ${Math.round(memory.perVerifiedTenant)} B (context ${Math.round(memory.perContext)} B + its L1 entry ${Math.round(memory.perL1Entry)} B)`,
    )
    console.log(
      `  per tenant registered and heard of, never served: ${memory.perIdleTenant.toFixed(1)} B (noise of the method: ±${memory.idleNoise.toFixed(1)} B per tenant)`,
    )
  } else console.log('\nmemory: run with --expose-gc')

  let workerd: Awaited<ReturnType<typeof tenancyInWorkerd>>
  try {
    workerd = await tenancyInWorkerd({ l2: l2Adds, tenants: QUICK ? 1000 : MANY, quick: QUICK })
  } finally {
    await l2Adds?.redis.stop()
  }

  const target = (value: number) => ({ value, target: '≥ 0.95', met: value >= 0.95 })
  const headlines = [
    {
      name: `CPU cost ratio, L1 hit, ${MANY} tenants vs 1 (traffic over ${HOT_TOKENS})`,
      ...target(ratios.l1Hit.thread),
    },
    {
      name: `wall cost ratio, L1 hit, ${MANY} tenants vs 1 (traffic over ${HOT_TOKENS})`,
      ...target(ratios.l1Hit.wall),
    },
    {
      name: `CPU cost ratio, cold (L1 off), ${MANY} tenants vs 1 (traffic over ${COLD_TOKENS})`,
      ...target(ratios.cold.thread),
    },
    {
      name: `CPU cost ratio, cold, a revoked id in every filter, ${COLD_TOKENS} tenants vs 1`,
      ...target(ratios.coldRevoked.thread),
    },
    { name: `L1 hit rate ratio, ${MANY} tenants vs 1 (same traffic)`, ...target(hitMany / hitOne) },
    ...(l2Adds
      ? [
          {
            name: `add a tenant (CLI code → Upstash bridge → redis), p99 ms, adds 101–${l2Adds.adds.length}`,
            value: l2Adds.buckets[0]?.p99 ?? NaN,
            target: '< 50 ms',
            met: (l2Adds.buckets[0]?.p99 ?? Infinity) < 50,
          },
          {
            name: 'add a tenant, p50 ms (same adds)',
            value: l2Adds.buckets[0]?.p50 ?? NaN,
            target: '< 50 ms',
            met: (l2Adds.buckets[0]?.p50 ?? Infinity) < 50,
          },
        ]
      : []),
    ...(memory
      ? [
          {
            name: 'bytes per tenant verified once, then idle (edge, Node heap)',
            value: memory.perVerifiedTenant,
          },
          {
            name: 'bytes per registered tenant never served (edge, Node heap)',
            value: memory.perIdleTenant,
          },
        ]
      : []),
    ...(workerd?.headlines ?? []),
  ]
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  writeFileSync(
    RESULTS,
    JSON.stringify(
      {
        benchmark: 'tenancy',
        runAt: new Date(startedAt).toISOString(),
        machine,
        loadAverage: loadavg(),
        tenants: MANY,
        quick: QUICK,
        summary: headlines,
        details: {
          ratios,
          perOpNs: Object.fromEntries(
            [
              ...Object.keys(hits.slices).map((id) => [id, hits] as const),
              ...Object.keys(colds.slices).map((id) => [id, colds] as const),
            ].map(([id, run]) => [
              id,
              {
                thread: perOp(run, id, 'threadNs'),
                cpu: perOp(run, id, 'cpuNs'),
                wall: perOp(run, id, 'wallNs'),
              },
            ]),
          ),
          l1HitRate: { one: hitOne, many: hitMany },
          commandsPerAddInMemory: commandsPerAdd,
          addsAgainstUpstash: l2Adds && { buckets: l2Adds.buckets, commands: l2Adds.commands },
          memory,
          workerd: workerd?.details,
        },
      },
      null,
      2,
    ),
  )
}

await main()
