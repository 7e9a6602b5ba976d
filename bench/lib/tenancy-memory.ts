/**
 * Memory per tenant at the edge, in Node's heap after a full GC (needs `--expose-gc`), for
 * `npm run bench:tenancy`. Two quantities, each heap delta divided by the tenants it covers:
 *
 * - A tenant that verified once and now sits idle: the heap of an edge over `n` tenants before and
 *   after one verification per tenant (tokens signed before), with L1 on (its context: key set copy,
 *   verifier, revocation gate and filter, checker; and its L1 entry) and with L1 off (the context
 *   alone); the difference is the L1 entry.
 * - A tenant registered and heard of but never served: an edge serves tenant 0, then `n − 1` more
 *   tenants are added and the edge follows every one of those changes (its registry follower reads
 *   the change stream to the end); the edge's own heap is the process heap minus the same heap with
 *   the edge dropped (the memory store lives in this heap too). Per tenant: (edge with `n` − edge
 *   with 1) / (n − 1). The method's noise is the same difference between two edges with 1 tenant,
 *   divided by n − 1 as well.
 *
 * @example const memory = await edgeMemory(10_000) // null without --expose-gc
 */
import { createStaticKeySet } from '../../src/core/jwks.ts'
import { keySetStoreKeys } from '../../src/core/published-key-set.ts'
import { createEdgeTenancy } from '../../src/tenancy/edge-tenancy.ts'
import { registryKeys } from '../../src/tenancy/registry-keys.ts'
import { createTenantRegistry } from '../../src/tenancy/registry.ts'
import { scopeStore } from '../../src/tenancy/scoped-store.ts'
import { publicJwks } from '../../test/fixtures/keys.ts'
import {
  benchEdgeConfig,
  countingStore,
  definitionOf,
  issuerOf,
  keySetOf,
  signFor,
  tenancyWorld,
} from './tenancy-fixtures.ts'

export interface EdgeMemory {
  tenants: number
  perVerifiedTenant: number
  perContext: number
  perL1Entry: number
  perIdleTenant: number
  idleNoise: number
}

const heapAfterGc = (gc: () => void): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

export async function edgeMemory(n: number): Promise<EdgeMemory | null> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return null
  const tokens: string[] = []
  for (let i = 0; i < n; i++) tokens.push(await signFor(i, i))

  const verifiedOnce = async (l1MaxEntries: number) => {
    const world = await tenancyWorld(n, { l1MaxEntries, maxTenants: n })
    const before = heapAfterGc(gc)
    for (const t of tokens) await world.verifier.verify(t)
    const after = heapAfterGc(gc)
    if (world.verifier.stats().tenants !== n) throw new Error('not every tenant context was built')
    return (after - before) / n
  }
  const perVerifiedTenant = await verifiedOnce(n)
  const perContext = await verifiedOnce(0)

  const edgeBytes = async (tenants: number) => {
    const { store } = countingStore()
    const registry = createTenantRegistry({ store })
    const add = async (i: number) => {
      await registry.add(definitionOf(i))
      await scopeStore(store, `t${i}`).set(keySetStoreKeys(issuerOf(i)).document, keySetOf(i))
    }
    await add(0)
    let edge: ReturnType<typeof createEdgeTenancy> | undefined = createEdgeTenancy({
      config: benchEdgeConfig(n, n),
      store,
    })
    let verifier = await edge.verifierWith(await createStaticKeySet(publicJwks()))
    await verifier.verify(tokens[0] as string)
    for (let i = 1; i < tenants; i++) await add(i)
    // Follow every change to the end of the stream, as the edge's next requests would.
    const newest = (await store.lastStreamEntry(registryKeys.changes))?.id
    while (edge.follower.status().cursor !== newest) await edge.follower.syncNow()
    await verifier.verify(tokens[0] as string)
    if (verifier.stats().tenants !== 1) throw new Error('an idle tenant was built')
    const withEdge = heapAfterGc(gc)
    edge = undefined
    verifier = undefined as never
    const without = heapAfterGc(gc)
    return withEdge - without
  }
  const one = await edgeBytes(1)
  const oneAgain = await edgeBytes(1)
  const many = await edgeBytes(n)
  return {
    tenants: n,
    perVerifiedTenant,
    perContext,
    perL1Entry: perVerifiedTenant - perContext,
    perIdleTenant: (many - one) / (n - 1),
    idleNoise: Math.abs(oneAgain - one) / (n - 1),
  }
}
