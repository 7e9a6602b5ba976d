/**
 * Tenancy at scale (issue 16): what a tenant costs with 1 and with 10,000 tenants, in one run on one
 * machine, in process on Node over the memory store (so L2 work is counted in commands, not timed).
 * Prints tables and writes bench/results/tenancy.json.
 *
 * - Adding a tenant: store commands and time per `registry.add` (plus publishing its key set) for
 *   the first tenants and after 10,000 exist. The commands are the cost that matters on Upstash (one
 *   round trip each); the time here is CPU only.
 * - Per-request cost at the edge: the multi-tenant verifier (`createEdgeTenancy`) on an L1 hit and
 *   cold (L1 off, tenant contexts built), with 1 tenant, with only the tenants the traffic touches
 *   (64 hot, 512 cold) and with 10,000 registered (same traffic), rows interleaved in rounds;
 *   reported as ratios of ops/s (the median of the rounds' ratios: the rows of a round run back to
 *   back, so a burst of load from elsewhere falls on both sides of one ratio).
 * - L1 hit rate: the same traffic (1,000 distinct tokens, each verified 5 times) with 1 tenant and
 *   with every token from a different one of 10,000 tenants.
 * - Memory per tenant at the edge: heap growth after one verification for each of 10,000 tenants
 *   (each builds its context: key-set copy, verifier, revocation state), divided by 10,000; and per
 *   idle tenant (registered, no traffic to the isolate): the edge's heap (tenancy built, one tenant
 *   served) with 10,000 tenants registered against 1, divided by 9,999. Needs `--expose-gc`.
 *
 * Every tenant's key set holds one ES256 key; all tenants share one key pair under different kids,
 * so key generation is not what the setup waits for (each tenant still imports its own copy).
 *
 * Run: `npm run bench:tenancy` (also part of `npm run bench`). The headline lines (`summary`) are
 * what `npm run bench` tabulates; `details` holds every number.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { parseVerificationConfig } from '../src/core/config.ts'
import { createStaticKeySet } from '../src/core/jwks.ts'
import { keySetStoreKeys, type KeySetDocument } from '../src/core/published-key-set.ts'
import { createMemoryStore } from '../src/store/memory.ts'
import type { Store } from '../src/store/types.ts'
import { createEdgeTenancy } from '../src/tenancy/edge-tenancy.ts'
import type { TenantVerifier } from '../src/tenancy/edge-tenants.ts'
import { scopeStore } from '../src/tenancy/scoped-store.ts'
import { publicJwks } from '../test/fixtures/keys.ts'
import { describeMachine } from './lib/machine.ts'
import { measure, merge, type Measurement } from './lib/measure.ts'
import { opsPerSec, renderTable, us } from './lib/table.ts'
import { cycle, TEST_AUDIENCE, TEST_ISSUER } from './lib/tokens.ts'

const MANY = 10_000
const ROUNDS = 7
const ROUND_MS = 300
const HOT_TOKENS = 64
const RESULTS = new URL('./results/tenancy.json', import.meta.url)
const BASE = 'https://auth.bench.test'

const issuerOf = (i: number) => `${BASE}/t/t${i}`
const audienceOf = (i: number) => `https://api.t${i}.bench.test`

const { privateKey, publicKey } = await generateKeyPair('ES256')
const publicJwk: JWK = await exportJWK(publicKey)

/** The memory store with a count of every command, so an operation's L2 cost can be read off. */
function countingStore(): { store: Store; commands: () => number } {
  const memory = createMemoryStore({ maxKeys: 10_000_000 })
  let commands = 0
  const store = new Proxy(memory, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        commands++
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store, commands: () => commands }
}

function keySetOf(i: number): string {
  const at = Math.floor(Date.now() / 1000) - 60
  const doc: KeySetDocument = {
    format: 1,
    issuer: issuerOf(i),
    version: 1,
    updatedAt: at,
    cacheSeconds: 300,
    keys: [
      {
        kid: `k${i}`,
        alg: 'ES256',
        jwk: {
          ...publicJwk,
          kid: `k${i}`,
          alg: 'ES256',
          use: 'sig',
        } as KeySetDocument['keys'][0]['jwk'],
        createdAt: at,
        publishAt: at,
        activateAt: at,
      },
    ],
  }
  return JSON.stringify(doc)
}

const signFor = (i: number, n: number) =>
  new SignJWT({
    iss: issuerOf(i),
    aud: audienceOf(i),
    sub: `user-${n}`,
    client_id: 'app',
    jti: crypto.randomUUID(),
    scope: 'openid profile orders:read',
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 900,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `k${i}` })
    .sign(privateKey)

/** The edge's configuration for the bench: tenancy on, the store given directly. */
const benchConfig = (l1MaxEntries: number) =>
  parseVerificationConfig(
    {
      GATEHOUSE_ISSUER: TEST_ISSUER,
      GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
      GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
      GATEHOUSE_TENANCY: 'true',
      GATEHOUSE_L1_MAX_ENTRIES: String(l1MaxEntries),
      GATEHOUSE_TENANT_CACHE_SIZE: String(MANY),
      // Never called: the store is given directly.
      UPSTASH_REDIS_REST_URL: 'https://l2.bench.invalid',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
      GATEHOUSE_LOG_LEVEL: 'silent',
    },
    { runtime: 'edge' },
  )

interface World {
  verifier: TenantVerifier
  /** Per add: store commands and milliseconds, in order. */
  adds: { commands: number; ms: number }[]
}

/** An edge over the memory store with `tenants` tenants registered and their key sets published. */
async function world(tenants: number, l1MaxEntries: number): Promise<World> {
  const { store, commands } = countingStore()
  const tenancy = createEdgeTenancy({ config: benchConfig(l1MaxEntries), store })
  const verifier = await tenancy.verifierWith(await createStaticKeySet(publicJwks()))
  const adds: World['adds'] = []
  for (let i = 0; i < tenants; i++) {
    const before = commands()
    const t0 = performance.now()
    await tenancy.registry.add({ id: `t${i}`, issuer: issuerOf(i), audiences: [audienceOf(i)] })
    // As the tenant's origin publishes it on its first start (its key lifecycle).
    await scopeStore(store, `t${i}`).set(keySetStoreKeys(issuerOf(i)).document, keySetOf(i))
    adds.push({ commands: commands() - before, ms: performance.now() - t0 })
  }
  return { verifier, adds }
}

/** Spreads `count` tokens over the tenants of a world of `tenants`. */
async function tokens(tenants: number, count: number): Promise<string[]> {
  const out: string[] = []
  for (let n = 0; n < count; n++) out.push(await signFor((n * 7919) % tenants, n))
  return out
}

const p = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}

async function main(): Promise<void> {
  const startedAt = Date.now()
  const machine = describeMachine()
  console.log(`tenancy bench on ${machine.cpuModel} (${machine.cores} cores), Node ${machine.node}`)

  // ---- building the worlds (adds timed as they happen) ----
  const oneHot = await world(1, 10_000)
  const manyHot = await world(MANY, 10_000)
  const oneCold = await world(1, 0)
  const manyCold = await world(MANY, 0)
  const firstAdds = manyHot.adds.slice(0, 100)
  const lastAdds = manyHot.adds.slice(-100)
  const addRows = [
    ['first 100 tenants', firstAdds],
    [`tenants ${MANY - 99}–${MANY}`, lastAdds],
  ] as const

  // ---- per-request cost, interleaved rounds ----
  // Against 1 tenant (the issue's baseline), and against a world of as many tenants as the traffic
  // touches (64 hot, 512 cold), so registry size and traffic spread can be told apart.
  const fewHot = await world(HOT_TOKENS, 10_000)
  const fewCold = await world(512, 0)
  const hot = { one: await tokens(1, HOT_TOKENS), spread: await tokens(HOT_TOKENS, HOT_TOKENS) }
  const coldPool = { one: await tokens(1, 512), spread: await tokens(512, 512) }
  const rows: { id: string; name: string; op: () => unknown }[] = [
    { id: 'hit-1', name: 'L1 hit, 1 tenant', op: rotate(oneHot.verifier, hot.one) },
    {
      id: 'hit-few',
      name: `L1 hit, ${HOT_TOKENS} tenants, traffic over all`,
      op: rotate(fewHot.verifier, hot.spread),
    },
    {
      id: 'hit-many',
      name: `L1 hit, ${MANY} tenants, traffic over ${HOT_TOKENS}`,
      op: rotate(manyHot.verifier, hot.spread),
    },
    { id: 'cold-1', name: 'cold (L1 off), 1 tenant', op: rotate(oneCold.verifier, coldPool.one) },
    {
      id: 'cold-few',
      name: 'cold (L1 off), 512 tenants, traffic over all',
      op: rotate(fewCold.verifier, coldPool.spread),
    },
    {
      id: 'cold-many',
      name: `cold (L1 off), ${MANY} tenants, traffic over 512`,
      op: rotate(manyCold.verifier, coldPool.spread),
    },
  ]
  // Every tenant context the rows use is built (and every hot token cached) before timing.
  for (const [w, pool] of [
    [oneHot, hot.one],
    [fewHot, hot.spread],
    [manyHot, hot.spread],
    [oneCold, coldPool.one],
    [fewCold, coldPool.spread],
    [manyCold, coldPool.spread],
  ] as const)
    for (const t of pool) await w.verifier.verify(t)
  const rounds = new Map<string, Measurement[]>(rows.map((r) => [r.id, []]))
  for (let round = 0; round < ROUNDS; round++)
    for (const row of rows) rounds.get(row.id)?.push(await measure(row.op, { timeMs: ROUND_MS }))
  const timed = new Map([...rounds].map(([id, ms]) => [id, merge(ms)]))
  // The ops/s ratio of two rows is the median of their ratios round by round: rows are interleaved,
  // so a burst of load from elsewhere on the machine falls on both sides of one round's ratio.
  const ratio = (a: string, b: string) => {
    const ra = rounds.get(a) ?? []
    const rb = rounds.get(b) ?? []
    return p(
      ra.map((m, i) => m.opsPerSec / (rb[i]?.opsPerSec ?? NaN)),
      0.5,
    )
  }
  /** The same comparison on medians (baseline p50 / row p50: 1 is equal, below 1 slower). */
  const p50Ratio = (a: string, b: string) =>
    (timed.get(b)?.p50Ns ?? NaN) / (timed.get(a)?.p50Ns ?? NaN)

  // ---- L1 hit rate on the same traffic ----
  const hitRate = async (tenants: number) => {
    const w = await world(tenants, 10_000)
    const pool = await tokens(tenants, 1000)
    for (let pass = 0; pass < 5; pass++) for (const t of pool) await w.verifier.verify(t)
    const s = w.verifier.stats()
    return s.hits / (s.hits + s.misses)
  }
  const hitOne = await hitRate(1)
  const hitMany = await hitRate(MANY)

  // ---- memory per tenant context at the edge ----
  let bytesPerTenant: number | null = null
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    const w = await world(MANY, 0)
    const all: string[] = []
    for (let i = 0; i < MANY; i++) all.push(await signFor(i, i))
    gc()
    const before = process.memoryUsage().heapUsed
    for (const t of all) await w.verifier.verify(t)
    gc()
    bytesPerTenant = (process.memoryUsage().heapUsed - before) / MANY
    if (w.verifier.stats().tenants !== MANY) throw new Error('not every tenant context was built')
  }
  const idleBytes = gc ? await bytesPerIdleTenant(gc) : null

  console.log('\nAdding a tenant (registry.add + its key set; memory store: CPU only)')
  console.log(
    renderTable(
      ['when', 'store commands', 'p50 ms', 'p99 ms'],
      addRows.map(([name, adds]) => [
        name,
        String(
          p(
            adds.map((a) => a.commands),
            0.5,
          ),
        ),
        p(
          adds.map((a) => a.ms),
          0.5,
        ).toFixed(3),
        p(
          adds.map((a) => a.ms),
          0.99,
        ).toFixed(3),
      ]),
    ),
  )
  console.log('\nVerification at the edge (multi-tenant verifier, Node, in process)')
  console.log(
    renderTable(
      ['row', 'ops/s', 'p50 µs', 'p99 µs'],
      rows.map((r) => {
        const m = timed.get(r.id) as Measurement
        return [r.name, opsPerSec(m.opsPerSec), us(m.p50Ns), us(m.p99Ns)]
      }),
    ),
  )
  const summary = {
    addCommands: {
      first: p(
        firstAdds.map((a) => a.commands),
        0.5,
      ),
      after10k: p(
        lastAdds.map((a) => a.commands),
        0.5,
      ),
    },
    addMsP50: {
      first: p(
        firstAdds.map((a) => a.ms),
        0.5,
      ),
      after10k: p(
        lastAdds.map((a) => a.ms),
        0.5,
      ),
    },
    ratioL1Hit: ratio('hit-many', 'hit-1'),
    ratioCold: ratio('cold-many', 'cold-1'),
    ratioL1HitSameTraffic: ratio('hit-many', 'hit-few'),
    ratioColdSameTraffic: ratio('cold-many', 'cold-few'),
    p50Ratio: {
      l1Hit: p50Ratio('hit-many', 'hit-1'),
      cold: p50Ratio('cold-many', 'cold-1'),
      l1HitSameTraffic: p50Ratio('hit-many', 'hit-few'),
      coldSameTraffic: p50Ratio('cold-many', 'cold-few'),
    },
    l1HitRate: { one: hitOne, many: hitMany, ratio: hitMany / hitOne },
    bytesPerBuiltTenant: bytesPerTenant,
  }
  console.log(
    `\nops/s ratio ${MANY} vs 1 tenant: L1 hit ${summary.ratioL1Hit.toFixed(3)}, cold ${summary.ratioCold.toFixed(3)}`,
  )
  console.log(
    `ops/s ratio ${MANY} tenants vs only the tenants the traffic touches: L1 hit ${summary.ratioL1HitSameTraffic.toFixed(3)}, cold ${summary.ratioColdSameTraffic.toFixed(3)}`,
  )
  const r = summary.p50Ratio
  console.log(
    `the same on p50: vs 1 tenant L1 hit ${r.l1Hit.toFixed(3)}, cold ${r.cold.toFixed(3)}; vs the tenants touched L1 hit ${r.l1HitSameTraffic.toFixed(3)}, cold ${r.coldSameTraffic.toFixed(3)}`,
  )
  console.log(
    `L1 hit rate (1,000 tokens × 5): 1 tenant ${hitOne.toFixed(3)}, ${MANY} tenants ${hitMany.toFixed(3)} (ratio ${summary.l1HitRate.ratio.toFixed(3)})`,
  )
  console.log(
    bytesPerTenant === null
      ? 'memory per tenant: run with --expose-gc'
      : `memory per tenant context built at the edge: ${(bytesPerTenant / 1024).toFixed(1)} KiB (heap, ${MANY} tenants); a tenant with no traffic here: nothing built`,
  )
  console.log(
    idleBytes === null
      ? ''
      : `memory per idle tenant at the edge (registered, no traffic here): ${idleBytes.toFixed(1)} bytes (edge heap with ${MANY} tenants registered vs 1)`,
  )
  // The lines `npm run bench` tabulates (bench/run-all.ts): the issue's targets, ratios in one run.
  const headlines = [
    {
      name: `ops/s ratio, L1 hit, ${MANY} tenants vs 1 (traffic over ${HOT_TOKENS} tenants)`,
      value: summary.ratioL1Hit,
      target: '≥ 0.95',
      met: summary.ratioL1Hit >= 0.95,
    },
    {
      name: `ops/s ratio, L1 hit, ${MANY} tenants vs only the ${HOT_TOKENS} the traffic touches`,
      value: summary.ratioL1HitSameTraffic,
      target: '≥ 0.95',
      met: summary.ratioL1HitSameTraffic >= 0.95,
    },
    {
      name: `ops/s ratio, cold (L1 off), ${MANY} tenants vs 1 (traffic over 512)`,
      value: summary.ratioCold,
      target: '≥ 0.95',
      met: summary.ratioCold >= 0.95,
    },
    {
      name: `L1 hit rate ratio, ${MANY} tenants vs 1 (same traffic)`,
      value: summary.l1HitRate.ratio,
      target: '≥ 0.95',
      met: summary.l1HitRate.ratio >= 0.95,
    },
    {
      name: `add a tenant after ${MANY}, p50 ms (memory store: CPU; ${summary.addCommands.after10k} store commands)`,
      value: summary.addMsP50.after10k,
      target: '< 50 ms',
      met: summary.addMsP50.after10k < 50,
    },
    ...(bytesPerTenant === null
      ? []
      : [{ name: 'KiB per tenant context built at the edge', value: bytesPerTenant / 1024 }]),
    ...(idleBytes === null
      ? []
      : [{ name: 'bytes per idle tenant at the edge (no traffic there)', value: idleBytes }]),
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
        rows: rows.map((r) => ({ id: r.id, name: r.name, ...pick(timed.get(r.id)) })),
        summary: headlines,
        details: { ...summary, bytesPerIdleTenant: idleBytes },
      },
      null,
      2,
    ),
  )
}

/**
 * What a registered tenant with no traffic costs an edge: the heap an edge builds (its tenancy, and
 * one request served for tenant 0) over a registry of 10,000 against over a registry of 1, the
 * registries' own data (here in the same heap: the memory store) in place before either is measured.
 */
async function bytesPerIdleTenant(gc: () => void): Promise<number> {
  const edgeHeap = async (tenants: number) => {
    const { store } = countingStore()
    const registered = createEdgeTenancy({ config: benchConfig(10_000), store })
    for (let i = 0; i < tenants; i++) {
      await registered.registry.add({
        id: `t${i}`,
        issuer: issuerOf(i),
        audiences: [audienceOf(i)],
      })
      await scopeStore(store, `t${i}`).set(keySetStoreKeys(issuerOf(i)).document, keySetOf(i))
    }
    const token = await signFor(0, 0)
    gc()
    const before = process.memoryUsage().heapUsed
    const edge = createEdgeTenancy({ config: benchConfig(10_000), store })
    const verifier = await edge.verifierWith(await createStaticKeySet(publicJwks()))
    await verifier.verify(token)
    gc()
    const bytes = process.memoryUsage().heapUsed - before
    if (verifier.stats().tenants !== 1) throw new Error('the idle tenants were built')
    return { bytes, keep: [store, edge, verifier] }
  }
  // Median of three pairs: one gc'd heap delta is noisy by a few KiB.
  const deltas: number[] = []
  for (let i = 0; i < 3; i++) {
    const one = await edgeHeap(1)
    const many = await edgeHeap(MANY)
    deltas.push((many.bytes - one.bytes) / (MANY - 1))
  }
  return p(deltas, 0.5)
}

function rotate(verifier: TenantVerifier, pool: readonly string[]): () => Promise<unknown> {
  const next = cycle(pool)
  return () => verifier.verify(next())
}

function pick(m: Measurement | undefined) {
  return m && { opsPerSec: m.opsPerSec, p50Ns: m.p50Ns, p99Ns: m.p99Ns, ops: m.ops }
}

await main()
