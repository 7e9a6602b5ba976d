/**
 * Adding tenants against real L2 for `npm run bench:tenancy`: redis-server with the Upstash REST
 * bridge in front (scripts/dev-redis.ts, as `npm run dev` runs it), and `gatehouse tenants add`'s own
 * code (src/cli/tenants.ts → the registry the admin API uses too) over the production Upstash
 * adapter. Every add is timed from the call to its answer, one after another up to `count` tenants,
 * so the last ones run against a registry of `count`. Round trips per add are counted at the
 * adapter's fetch.
 *
 * @example const l2 = await addsAgainstUpstash(10_000) // undefined without redis-server
 */
import { startDevRedis, type DevRedis } from '../../scripts/dev-redis.ts'
import { tenants } from '../../src/cli/tenants.ts'
import { createUpstashStore } from '../../src/store/upstash.ts'
import type { Store } from '../../src/store/types.ts'
import { definitionOf } from './tenancy-fixtures.ts'

export interface AddBucket {
  name: string
  p50: number
  p99: number
  max: number
}

export interface L2Adds {
  /** Milliseconds per add, in order. */
  adds: number[]
  /** After the first 100 (warm), then the first 100, then the last 100. */
  buckets: AddBucket[]
  /** Median Upstash round trips per add. */
  commands: number
  /** The L2 with the tenants in it (the caller stops it). */
  redis: DevRedis
  store: Store
}

const q = (sorted: number[], at: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(at * sorted.length))] ?? NaN

function bucket(name: string, values: number[]): AddBucket {
  const sorted = [...values].sort((a, b) => a - b)
  return { name, p50: q(sorted, 0.5), p99: q(sorted, 0.99), max: sorted.at(-1) ?? NaN }
}

export async function addsAgainstUpstash(count: number): Promise<L2Adds | undefined> {
  const redis = await startDevRedis({ cwd: process.cwd(), log: () => {} })
  if (redis === undefined) return undefined
  let fetches = 0
  const store = createUpstashStore({
    url: redis.url,
    token: redis.token,
    fetch: (input, init) => {
      fetches++
      return fetch(input, init)
    },
  })
  const io = { env: {}, store }
  const adds: number[] = []
  const commands: number[] = []
  for (let i = 0; i < count; i++) {
    const definition = JSON.stringify(definitionOf(i))
    const before = fetches
    const t0 = performance.now()
    await tenants(['add', '-'], { ...io, readDefinition: async () => definition })
    adds.push(performance.now() - t0)
    commands.push(fetches - before)
  }
  const sortedCommands = [...commands].sort((a, b) => a - b)
  return {
    adds,
    // The first 100 carry the process's warm-up (JIT, connections): reported apart, as a fresh
    // `gatehouse tenants add` process pays it and the admin API (a running origin) does not.
    buckets: [
      bucket(`tenants 101–${count}`, adds.slice(100)),
      bucket('first 100', adds.slice(0, 100)),
      bucket(`tenants ${count - 99}–${count}`, adds.slice(-100)),
    ],
    commands: q(sortedCommands, 0.5),
    redis,
    store,
  }
}
