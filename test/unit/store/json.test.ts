import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { isStoreError } from '../../../src/store/errors.ts'
import { getJson, setJson } from '../../../src/store/json.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'

const client = z.object({ id: z.string(), redirectUris: z.array(z.string().url()) })

describe('json helpers', () => {
  it('round-trips a value validated by a schema, null when absent', async () => {
    const store = createMemoryStore()
    const value = { id: 'spa', redirectUris: ['https://app.example/cb'] }
    expect(await setJson(store, 'client:spa', value, { ttlSeconds: 60 })).toBe(true)
    expect(await getJson(store, 'client:spa', client)).toEqual(value)
    expect(await getJson(store, 'client:none', client)).toBeNull()
    expect(await getJson(store, 'client:spa')).toEqual(value)
  })

  it('reports corrupt JSON and schema failures without echoing the stored value', async () => {
    const store = createMemoryStore()
    await store.set('bad', '{"secret":"hunter2"')
    await store.set('wrong', JSON.stringify({ id: 'x', redirectUris: ['hunter2-not-a-url'] }))
    for (const key of ['bad', 'wrong']) {
      const error = await getJson(store, key, client).catch((e: unknown) => e)
      expect(isStoreError(error) && error.code === 'invalid_value').toBe(true)
      expect(String((error as Error).message)).not.toContain('hunter2')
    }
    const error = await getJson(store, 'wrong', client).catch((e: unknown) => e)
    expect((error as Error).message).toContain('redirectUris.0')
  })

  it('refuses values JSON cannot represent, and honours ifAbsent', async () => {
    const store = createMemoryStore()
    await expect(setJson(store, 'k', undefined)).rejects.toThrow(TypeError)
    expect(await setJson(store, 'k', 1, { ifAbsent: true })).toBe(true)
    expect(await setJson(store, 'k', 2, { ifAbsent: true })).toBe(false)
    expect(await getJson(store, 'k')).toBe(1)
  })
})
