import { describe, expect, it } from 'vitest'
import { isStoreError } from '../../src/store/errors.ts'
import type { Store } from '../../src/store/types.ts'

/**
 * The Store's schedule operations (`schedule`, `claimDue`, `unschedule`): the durable due-time queue
 * the back-channel logout deliveries run from. Called once per adapter beside `defineStoreContract`,
 * with a factory that returns a fresh, empty store. Time is passed in (`nowMs`), so no clock is faked.
 *
 * @example
 * defineScheduleContract('memory', () => createMemoryStore())
 */
export function defineScheduleContract(
  name: string,
  makeStore: () => Store | Promise<Store>,
): void {
  describe(`Store schedule contract: ${name}`, () => {
    const T = 1_750_000_000_000

    it('claims due members in due order (ties by member), up to count, and leases them', async () => {
      const store = await makeStore()
      expect(await store.claimDue('q', T, 1000, 10)).toEqual([])
      await store.schedule('q', 'c', T + 300)
      await store.schedule('q', 'b', T + 100)
      await store.schedule('q', 'a', T + 100)
      expect(await store.claimDue('q', T + 250, 1000, 1)).toEqual(['a'])
      expect(await store.claimDue('q', T + 250, 1000, 10)).toEqual(['b'])
      // Leased until T + 1250: not claimable again before, even though they were due.
      expect(await store.claimDue('q', T + 1249, 1000, 10)).toEqual(['c'])
      expect(await store.claimDue('q', T + 1250, 1000, 10)).toEqual(['a', 'b'])
    })

    it('schedule replaces a due time; unschedule removes a member once', async () => {
      const store = await makeStore()
      await store.schedule('q', 'm', T)
      await store.schedule('q', 'm', T + 5000)
      expect(await store.claimDue('q', T + 4999, 1000, 10)).toEqual([])
      expect(await store.unschedule('q', 'm')).toBe(true)
      expect(await store.unschedule('q', 'm')).toBe(false)
      expect(await store.claimDue('q', T + 60_000, 1000, 10)).toEqual([])
      expect(await store.unschedule('absent', 'm')).toBe(false)
    })

    it('concurrent claims never hand out the same member twice', async () => {
      const store = await makeStore()
      for (const m of ['j1', 'j2', 'j3', 'j4']) await store.schedule('q', m, T)
      const claims = await Promise.all(
        Array.from({ length: 8 }, () => store.claimDue('q', T, 30_000, 1)),
      )
      const members = claims.flat()
      expect(members.sort()).toEqual(['j1', 'j2', 'j3', 'j4'])
    })

    it('delete removes a whole schedule; a schedule is not a string', async () => {
      const store = await makeStore()
      await store.schedule('q', 'm', T)
      const wrongType = (e: unknown) => isStoreError(e) && e.code === 'command_failed'
      await expect(store.get('q')).rejects.toSatisfy(wrongType)
      await store.set('s', 'v')
      await expect(store.schedule('s', 'm', T)).rejects.toSatisfy(wrongType)
      await expect(store.claimDue('s', T, 1000, 1)).rejects.toSatisfy(wrongType)
      expect(await store.delete('q')).toBe(1)
      expect(await store.claimDue('q', T, 1000, 10)).toEqual([])
    })

    it('refuses bad arguments before sending anything', async () => {
      const store = await makeStore()
      await expect(store.schedule('q', 'm', -1)).rejects.toThrow(RangeError)
      await expect(store.schedule('q', 'm', 1.5)).rejects.toThrow(RangeError)
      await expect(store.schedule('q', '', T)).rejects.toThrow(TypeError)
      await expect(store.claimDue('q', T, 0, 1)).rejects.toThrow(RangeError)
      await expect(store.claimDue('q', T, 1000, 0)).rejects.toThrow(RangeError)
      await expect(store.claimDue('q', Number.NaN, 1000, 1)).rejects.toThrow(RangeError)
    })
  })
}
