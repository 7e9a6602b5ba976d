import { describe, expect, it } from 'vitest'
import { createDpopReplayCache, dpopReplayKey } from '../../src/core/dpop-replay.ts'
import type { Store } from '../../src/store/types.ts'

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

/**
 * The DPoP replay cache's contract with a Store adapter (RFC 9449 §11.1): its one operation, an
 * atomic set-if-absent with a TTL, must let exactly one of any number of concurrent claimants of a
 * proof win, across cache instances (edge isolates, origin processes) that share only the store, and
 * must keep the record for the proof window and no longer. Called once per adapter, like
 * store.case.ts; TTLs are asserted by value (Redis cannot fake time).
 *
 * @example defineDpopReplayContract('memory', () => createMemoryStore())
 */
export function defineDpopReplayContract(
  name: string,
  makeStore: () => Store | Promise<Store>,
): void {
  describe(`DPoP replay contract: ${name}`, () => {
    it('DPoP replay: of 20 concurrent claims of one proof at 20 isolates, exactly one wins', async () => {
      const store = await makeStore()
      const isolates = Array.from({ length: 20 }, () =>
        createDpopReplayCache({ store, windowSeconds: 65, policy: 'closed' }),
      )
      const outcomes = await Promise.allSettled(isolates.map((cache) => cache.claim(JKT, 'jti-1')))
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
      const refused = outcomes.filter((o) => o.status === 'rejected')
      expect(refused).toHaveLength(19)
      for (const r of refused)
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'dpop_proof_invalid' })
    })

    it('DPoP replay: the record lives for the proof window, keyed per key and jti', async () => {
      const store = await makeStore()
      const cache = createDpopReplayCache({ store, windowSeconds: 65 })
      await cache.claim(JKT, 'jti-2')
      const ttl = await store.ttlMs(dpopReplayKey(JKT, 'jti-2'))
      expect(ttl).toBeGreaterThan(60_000)
      expect(ttl).toBeLessThanOrEqual(65_000)
      // The same jti under another key is another proof.
      const other = 'A'.repeat(43)
      await expect(cache.claim(other, 'jti-2')).resolves.toBeUndefined()
      await expect(
        createDpopReplayCache({ store, windowSeconds: 65 }).claim(JKT, 'jti-2'),
      ).rejects.toMatchObject({ code: 'dpop_proof_invalid' })
    })
  })
}
