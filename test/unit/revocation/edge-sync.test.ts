import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRevocationSync } from '../../../src/revocation/edge-sync.ts'
import { createRevocationWriter } from '../../../src/revocation/records.ts'
import { createSnapshotBuilder } from '../../../src/revocation/snapshot-builder.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { controlledStore, fakeClock, waitUntilCollector } from './support.ts'

function setup(
  options: Partial<Parameters<typeof createRevocationSync>[0]> = {},
  memory: Parameters<typeof createMemoryStore>[0] = {},
) {
  const clock = fakeClock()
  const store = controlledStore(createMemoryStore({ now: clock, ...memory }))
  const writer = createRevocationWriter({ store, now: clock, maxAccessTokenLifetimeSeconds: 900 })
  const builder = createSnapshotBuilder({ store, now: clock, maxAccessTokenLifetimeSeconds: 900 })
  const bg = waitUntilCollector()
  const logs: { level: string; msg: string }[] = []
  const sync = createRevocationSync({
    store,
    now: clock,
    syncSeconds: 2,
    syncTimeoutMs: 1000,
    maxStalenessSeconds: 30,
    logger: { log: (r) => void logs.push(r) },
    ...options,
  })
  return { clock, store, writer, builder, bg, sync, logs }
}

afterEach(() => void vi.useRealTimers())

describe('createRevocationSync', () => {
  it('first use loads the snapshot, then follows the stream from its id', async () => {
    const { clock, store, writer, builder, sync } = setup()
    await writer.revokeToken('in-snapshot', clock() / 1000 + 300)
    await builder.run()
    clock.advance(5)
    await writer.revokeToken('after-snapshot', clock() / 1000 + 300)
    store.resetCalls()

    const ready = sync.prepare()
    expect(ready).toBeInstanceOf(Promise) // nothing loaded: this request waits for the first sync
    expect(await ready).toBe(false)
    expect(store.calls).toEqual({ get: 1, readStream: 1 })
    expect(sync.has('jti:in-snapshot')).toBe(true)
    expect(sync.has('jti:after-snapshot')).toBe(true)
    expect(sync.status()).toMatchObject({ entries: 2, stale: false, ageSeconds: 0 })
  })

  it('starts at most one background sync per syncSeconds and never makes the request wait', async () => {
    const { clock, store, sync, bg } = setup()
    await sync.syncNow()
    store.resetCalls()
    sync.maybeSync(bg.waitUntil)
    expect(sync.prepare()).toBe(false)
    clock.advance(1999)
    sync.maybeSync(bg.waitUntil)
    expect(bg.count).toBe(0)
    clock.advance(1)
    sync.maybeSync(bg.waitUntil)
    sync.maybeSync(bg.waitUntil) // one in flight: no second
    expect(sync.prepare()).toBe(false)
    expect(bg.count).toBe(1)
    await bg.settle()
    expect(store.calls).toEqual({ readStream: 1 })
    expect(sync.status().lastSyncAt).toBe(clock())
  })

  it('picks up a revocation at the first sync started after it', async () => {
    const { clock, writer, sync, bg } = setup()
    await sync.syncNow()
    clock.advance(500)
    await writer.revokeSession('s-9')
    expect(sync.has('sid:s-9')).toBe(false)
    clock.advance(1500)
    sync.maybeSync(bg.waitUntil)
    await bg.settle()
    expect(sync.has('sid:s-9')).toBe(true)
  })

  it('makes a request on an idle isolate (filter older than the bound) sync first', async () => {
    const { clock, writer, sync, bg } = setup()
    await sync.syncNow()
    clock.advance(60_000)
    await writer.revokeToken('late', clock() / 1000 + 300)
    sync.maybeSync(bg.waitUntil) // the request's own sync covers this: no background one
    expect(bg.count).toBe(0)
    const ready = sync.prepare()
    expect(ready).toBeInstanceOf(Promise)
    await ready
    expect(sync.has('jti:late')).toBe(true)
  })

  it('frees the slot when a sync throws, and retries after syncSeconds', async () => {
    const { clock, store, sync, bg, logs } = setup()
    await sync.syncNow()
    store.mode = 'down'
    clock.advance(2000)
    sync.maybeSync(bg.waitUntil)
    await bg.settle()
    expect(sync.status().lastError).toBe('StoreError')
    expect(logs.filter((l) => l.msg === 'revocation sync failed')).toHaveLength(1)
    clock.advance(1999)
    sync.maybeSync(bg.waitUntil)
    expect(bg.count).toBe(0) // failed just now
    expect(sync.prepare()).toBe(false) // past the bound, but a sync failed < syncSeconds ago
    store.mode = 'up'
    clock.advance(1)
    // Past the bound and no failure within syncSeconds: the request syncs before deciding.
    const ready = sync.prepare()
    expect(ready).toBeInstanceOf(Promise)
    expect(await ready).toBe(false)
    expect(sync.status()).toMatchObject({ lastError: null, ageSeconds: 0 })
  })

  it('abandons a sync that hangs past the timeout and lets the next one run', async () => {
    vi.useFakeTimers()
    const { clock, store, sync, bg } = setup()
    await sync.syncNow()
    store.mode = 'hang'
    clock.advance(2000)
    sync.maybeSync(bg.waitUntil)
    await vi.advanceTimersByTimeAsync(1000)
    await bg.settle()
    expect(sync.status().lastError).toBe('RevocationSyncTimeout')
    store.mode = 'up'
    clock.advance(2000)
    await sync.prepare()
    expect(sync.status().lastError).toBeNull()
  })

  it('after an outage, an isolate that sat idle syncs before deciding the first request', async () => {
    const { clock, store, writer, sync, bg } = setup()
    await sync.syncNow()
    store.mode = 'down'
    clock.advance(2000)
    sync.maybeSync(bg.waitUntil)
    await bg.settle()
    expect(sync.status().lastError).toBe('StoreError')
    store.mode = 'up' // L2 is back; no request comes for a minute
    clock.advance(60_000)
    await writer.revokeToken('during-idle', clock() / 1000 + 300)
    const ready = sync.prepare()
    expect(ready).toBeInstanceOf(Promise)
    await ready
    expect(sync.has('jti:during-idle')).toBe(true)
  })

  it('keeps serving the last filter while L2 is down and reports its age', async () => {
    const { clock, store, writer, sync } = setup()
    await writer.revokeToken('known', clock() / 1000 + 300)
    await sync.syncNow()
    const syncedAt = clock()
    store.mode = 'down'
    let waited = 0
    for (let i = 0; i < 28; i++) {
      clock.advance(1000)
      const ready = sync.prepare()
      // Past the bound, L2 failing: one request per syncSeconds tries a sync (and fails fast);
      // every other request is decided on the filter held.
      if (ready instanceof Promise) {
        waited++
        expect(await ready).toBe(false)
      } else expect(ready).toBe(false)
    }
    expect(waited).toBe(13)
    expect(sync.has('jti:known')).toBe(true)
    expect(sync.status()).toMatchObject({ lastSyncAt: syncedAt, ageSeconds: 28, stale: false })
    clock.advance(2001)
    expect(await sync.prepare()).toBe(true)
    expect(sync.status()).toMatchObject({ stale: true, streamId: expect.any(String) })
  })

  it('warns once per stale episode (policy open)', async () => {
    const { clock, store, sync, logs } = setup()
    await sync.syncNow()
    store.mode = 'down'
    clock.advance(31_000)
    await sync.prepare() // fails: now in a failing episode
    clock.advance(1)
    expect(sync.prepare()).toBe(true)
    expect(sync.prepare()).toBe(true)
    expect(logs.filter((l) => l.msg.startsWith('revocation filter is stale'))).toHaveLength(1)
  })

  it('before any successful load the filter is stale', async () => {
    const { store, sync } = setup({ policy: 'closed' })
    store.mode = 'down'
    expect(await sync.prepare()).toBe(true)
    expect(sync.status()).toMatchObject({
      implementation: null,
      lastSyncAt: null,
      ageSeconds: null,
      stale: true,
      policy: 'closed',
    })
    expect(sync.has('jti:x')).toBe(false)
  })

  it('without a snapshot in L2 builds from the whole stream', async () => {
    const { clock, writer, sync } = setup()
    await writer.revokeToken('a', clock() / 1000 + 300)
    await writer.revokeSubject('u')
    await sync.syncNow()
    expect(sync.has('jti:a')).toBe(true)
    expect(sync.has('sub:u')).toBe(true)
    expect(sync.status().implementation).toBe('typescript')
  })

  it('reads a long backlog in bounded pages and catches up over several syncs', async () => {
    const { clock, writer, sync } = setup({ maxPagesPerSync: 1 })
    for (let i = 0; i < 1500; i++) await writer.revokeSession(`s-${i}`)
    await sync.syncNow()
    expect(sync.has('sid:s-1499')).toBe(false)
    expect(sync.status().lastSyncAt).toBeNull() // not caught up: not fresh
    await sync.syncNow()
    expect(sync.has('sid:s-1499')).toBe(true)
    expect(sync.status().lastSyncAt).toBe(clock())
  })

  it('reloads the snapshot periodically and changes epoch when content changes', async () => {
    const { clock, writer, builder, store, sync } = setup({ snapshotReloadSeconds: 10 })
    await sync.syncNow()
    const e0 = sync.epoch
    await writer.revokeToken('x', clock() / 1000 + 300)
    await builder.run()
    clock.advance(10_000)
    store.resetCalls()
    await sync.syncNow()
    expect(store.calls.get).toBe(1)
    expect(sync.has('jti:x')).toBe(true)
    expect(sync.epoch).toBeGreaterThan(e0)
  })

  it('recovers from an invalid snapshot by reading the stream', async () => {
    const { clock, store, writer, sync, logs } = setup()
    await writer.revokeToken('x', clock() / 1000 + 300)
    await store.set('rev:snapshot', 'R0hTQg==')
    expect(await sync.syncNow()).toBe(true)
    expect(sync.has('jti:x')).toBe(true)
    expect(logs.some((l) => l.level === 'error')).toBe(true)
  })

  it('never moves its cursor past events trimmed before it read them; a newer snapshot heals', async () => {
    const { clock, writer, builder, sync } = setup({}, { maxStreamLength: 100 })
    await writer.revokeSession('first')
    await builder.run()
    await sync.syncNow()
    const cursor = sync.status().streamId
    clock.advance(2000)
    for (let i = 0; i < 250; i++) await writer.revokeSession(`s-${i}`)
    // The stream now starts after events this isolate never read, and the snapshot is older still.
    expect(await sync.syncNow()).toBe(false)
    expect(sync.status()).toMatchObject({ lastError: 'RevocationStreamGap', streamId: cursor })
    expect(sync.status().lastSyncAt).toBeLessThan(clock())
    expect(sync.has('sid:s-249')).toBe(true) // what it did read, it keeps
    await builder.run() // the origin rebuilds from the records
    clock.advance(2000)
    expect(await sync.syncNow()).toBe(true)
    for (let i = 0; i < 250; i++) expect(sync.has(`sid:s-${i}`)).toBe(true)
    expect(sync.has('sid:first')).toBe(true)
    expect(sync.status()).toMatchObject({ lastError: null, lastSyncAt: clock() })
  })

  it('a sync racing another keeps the filter gap-free whichever finishes first', async () => {
    const { clock, store, writer, builder, sync } = setup({ snapshotReloadSeconds: 2 })
    await sync.syncNow()
    await writer.revokeSession('a')
    await builder.run()
    await writer.revokeSession('b')
    clock.advance(2000)
    // Two syncs in flight at once: one reloads the snapshot (due), both read the stream.
    const first = sync.syncNow()
    const second = sync.syncNow()
    expect(await Promise.all([first, second])).toEqual([true, true])
    await writer.revokeSession('c')
    clock.advance(2000)
    await sync.syncNow()
    for (const sid of ['a', 'b', 'c']) expect(sync.has(`sid:${sid}`)).toBe(true)
    expect(sync.status().streamId).toBe((await store.lastStreamEntry('rev:stream'))?.id)
  })

  it('validates its options once', () => {
    const store = createMemoryStore()
    expect(() => createRevocationSync({ store, syncSeconds: 0 })).toThrow(RangeError)
    expect(() => createRevocationSync({ store, maxStalenessSeconds: 2 })).toThrow(RangeError)
    expect(() => createRevocationSync({ store, policy: 'maybe' as 'open' })).toThrow(TypeError)
    expect(createRevocationSync({ store }).boundSeconds).toBe(3)
  })
})
