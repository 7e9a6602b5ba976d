import { describe, expect, it, vi } from 'vitest'
import { createRevocationFilter } from '../../../src/revocation/filter.ts'
import { createRevocationWriter } from '../../../src/revocation/records.ts'
import { createSnapshotBuilder } from '../../../src/revocation/snapshot-builder.ts'
import { decodeSnapshotText, encodeSnapshotText } from '../../../src/revocation/snapshot-codec.ts'
import { startSnapshotSchedule } from '../../../src/revocation/snapshot-schedule.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { controlledStore, fakeClock } from './support.ts'

function setup(
  options: { maxRequestBytes?: number } = {},
  memory: Parameters<typeof createMemoryStore>[0] = {},
) {
  const clock = fakeClock()
  const store = controlledStore(createMemoryStore({ now: clock, ...memory }))
  const writer = createRevocationWriter({ store, now: clock, maxAccessTokenLifetimeSeconds: 900 })
  const makeBuilder = () =>
    createSnapshotBuilder({
      store,
      now: clock,
      maxAccessTokenLifetimeSeconds: 900,
      expectedItems: 1000,
      ...options,
    })
  return { clock, store, writer, makeBuilder }
}

const stored = async (store: { get(k: string): Promise<string | null> }) => {
  const text = await store.get('rev:snapshot')
  if (text === null) throw new Error('no snapshot')
  return decodeSnapshotText(text)
}

describe('createSnapshotBuilder', () => {
  it('cold start: builds from the start of the stream and publishes the id it covers', async () => {
    const { clock, store, writer, makeBuilder } = setup()
    await writer.revokeToken('j', clock() / 1000 + 300)
    await writer.revokeSession('s')
    const result = await makeBuilder().run()
    const events = await store.readStream('rev:stream', '0')
    expect(result).toMatchObject({ written: true, rebuilt: true, entries: 2 })
    expect(result.streamId).toBe(events.at(-1)?.id)
    const { filter, streamId } = await stored(store)
    expect(streamId).toBe(result.streamId)
    expect(filter.has('jti:j') && filter.has('sid:s')).toBe(true)
    expect(filter.has('jti:s')).toBe(false)
  })

  it('cold start rebuilds from the records, even when the stream no longer holds their events', async () => {
    const { store, writer, makeBuilder } = setup({}, { maxStreamLength: 3 })
    for (let i = 0; i < 10; i++) await writer.revokeSession(`s-${i}`)
    expect(await store.readStream('rev:stream', '0')).toHaveLength(3)
    const result = await makeBuilder().run()
    expect(result).toMatchObject({ rebuilt: true, entries: 10 })
    const { filter, streamId } = await stored(store)
    for (let i = 0; i < 10; i++) expect(filter.has(`sid:s-${i}`)).toBe(true)
    expect(streamId).toBe((await store.lastStreamEntry('rev:stream'))?.id)
  })

  // Whatever the backend keeps after a trim (Upstash `~` keeps N−1..N+1 of N, Redis whole 100-entry
  // nodes), a gap after the snapshot is noticed from the trim point the entries carry.
  for (const [name, trimKeeps] of [
    ['N−1', (n: number) => n - 1],
    ['N', (n: number) => n],
    ['N+1', (n: number) => n + 1],
    ['100-blocks', (n: number, length: number) => length - Math.floor((length - n) / 100) * 100],
  ] as const) {
    it(`a stream trimmed past the snapshot (keeping ${name}) leads to a rebuild from the records`, async () => {
      const { clock, store, writer, makeBuilder } = setup({}, { maxStreamLength: 150, trimKeeps })
      const builder = makeBuilder()
      await writer.revokeSession('before')
      await builder.run()
      clock.advance(1000)
      for (let i = 0; i < 400; i++) await writer.revokeSession(`s-${i}`)
      const result = await builder.run()
      expect(result.rebuilt).toBe(true)
      const { filter, streamId } = await stored(store)
      expect(filter.has('sid:before')).toBe(true)
      for (let i = 0; i < 400; i++) expect(filter.has(`sid:s-${i}`)).toBe(true)
      expect(streamId).toBe((await store.lastStreamEntry('rev:stream'))?.id)
    })
  }

  it('extends without a rebuild while the stream is trimmed only behind the snapshot', async () => {
    const { clock, writer, makeBuilder } = setup({}, { maxStreamLength: 50 })
    const builder = makeBuilder()
    for (let i = 0; i < 100; i++) await writer.revokeSession(`a-${i}`)
    await builder.run()
    clock.advance(1000)
    for (let i = 0; i < 20; i++) await writer.revokeSession(`b-${i}`)
    expect(await builder.run()).toMatchObject({ rebuilt: false, entries: 120 })
  })

  it('publishes an empty snapshot when nothing was ever revoked', async () => {
    const { store, makeBuilder } = setup()
    expect(await makeBuilder().run()).toMatchObject({ written: true, streamId: '0-0', entries: 0 })
    expect((await stored(store)).streamId).toBe('0-0')
  })

  it('extends the filter with new events and skips the write when nothing changed', async () => {
    const { clock, store, writer, makeBuilder } = setup()
    const builder = makeBuilder()
    await builder.run()
    clock.advance(1000)
    await writer.revokeToken('later', clock() / 1000 + 300)
    expect(await builder.run()).toMatchObject({ written: true, rebuilt: false, entries: 1 })
    expect((await stored(store)).filter.has('jti:later')).toBe(true)
    expect(await builder.run()).toMatchObject({ written: false })
  })

  it('never replaces a snapshot that covers a later stream id', async () => {
    const { clock, store, writer, makeBuilder } = setup()
    const a = makeBuilder()
    const b = makeBuilder()
    await a.run()
    clock.advance(1000)
    await writer.revokeToken('x', clock() / 1000 + 300)
    const newer = await b.run()
    // A's next run adopts B's newer snapshot instead of writing its older state.
    const again = await a.run()
    expect(again.streamId).toBe(newer.streamId)
    expect((await stored(store)).streamId).toBe(newer.streamId)
  })

  it('loses the compare-and-swap race cleanly when another origin writes in between', async () => {
    const { clock, store, writer, makeBuilder } = setup()
    const builder = makeBuilder()
    await builder.run()
    clock.advance(1000)
    await writer.revokeToken('x', clock() / 1000 + 300)
    const realGet = store.get
    store.get = async (key: string) => {
      const value = await realGet(key)
      await store.set('rev:snapshot', 'written-by-someone-else') // lands between read and CAS
      return value
    }
    expect(await builder.run()).toMatchObject({ written: false })
    expect(await realGet('rev:snapshot')).toBe('written-by-someone-else')
    store.get = realGet
    expect(await builder.run()).toMatchObject({ written: true }) // replaces the invalid text
  })

  it('rebuilds once a token lifetime has passed, dropping revocations that expired', async () => {
    const { clock, store, writer, makeBuilder } = setup()
    await writer.revokeToken('old', clock() / 1000 + 300)
    const builder = makeBuilder()
    await builder.run()
    clock.advance((900 + 60) * 1000 + 1)
    await writer.revokeToken('new', clock() / 1000 + 300)
    const result = await builder.run()
    expect(result).toMatchObject({ rebuilt: true, entries: 1 })
    const { filter } = await stored(store)
    expect(filter.has('jti:new')).toBe(true)
    expect(filter.has('jti:old')).toBe(false)
  })

  it('grows the filter when the stream outgrows it, keeping ≤ 1% false positives', async () => {
    const { clock, store, writer, makeBuilder } = setup()
    const builder = makeBuilder()
    await builder.run()
    for (let i = 0; i < 3000; i++) await writer.revokeSession(`s-${i}`)
    clock.advance(1000)
    await builder.run() // extended past capacity
    const result = await builder.run() // notices and rebuilds at the right size
    expect(result).toMatchObject({ rebuilt: true, entries: 3000 })
    const { filter } = await stored(store)
    let falsePositives = 0
    for (let i = 0; i < 20_000; i++) if (filter.has(`sid:absent-${i}`)) falsePositives++
    expect(falsePositives / 20_000).toBeLessThanOrEqual(0.015)
  })

  it('writes with one SET when old and new would not fit in one request', async () => {
    const { store, makeBuilder } = setup({ maxRequestBytes: 1500 })
    await makeBuilder().run()
    expect(store.calls.compareAndSwap ?? 0).toBe(0)
    expect(store.calls.set).toBe(1)
  })

  it('sizes 100k revoked ids at ≤ 1% false positives well inside a 1 MB request', () => {
    const filter = createRevocationFilter({ expectedItems: 100_000, falsePositiveRate: 0.01 })
    const text = encodeSnapshotText(filter.toSnapshot('0-0'))
    // Measured: 131,104 snapshot bytes → 174,808 characters of base64; CAS sends it twice.
    expect(text.length).toBeLessThan(200_000)
    expect(2 * text.length).toBeLessThan(1_000_000)
  })

  it('the schedule runs at once, then on the interval, never overlapping, and stops', async () => {
    vi.useFakeTimers()
    try {
      let runs = 0
      let release: () => void = () => {}
      const builder = {
        run: () => {
          runs++
          return new Promise<never>((_, reject) => {
            release = () => reject(new Error('boom'))
          })
        },
      }
      const logs: string[] = []
      const schedule = startSnapshotSchedule({
        builder,
        intervalSeconds: 5,
        logger: { log: (r) => void logs.push(r.msg) },
      })
      expect(runs).toBe(1)
      await vi.advanceTimersByTimeAsync(5000)
      expect(runs).toBe(1) // still running
      release()
      await vi.advanceTimersByTimeAsync(5000)
      expect(runs).toBe(2)
      expect(logs).toEqual(['revocation snapshot build failed'])
      release()
      await schedule.stop()
      await vi.advanceTimersByTimeAsync(20_000)
      expect(runs).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })
})
