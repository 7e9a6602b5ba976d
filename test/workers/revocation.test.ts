/**
 * The edge revocation loop inside workerd: the WASM SIMD backend from the bundled module, syncs
 * started by requests inside `ctx.waitUntil` (no timers, no promise shared between requests), and
 * the check on the real /verify route of createApp. The store is the memory store (workerd here has
 * no Redis); the clock is injected.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { buildVerifier } from '../../src/http/build-verifier.ts'
import { createApp } from '../../src/http/app.ts'
import { createRevocationSync } from '../../src/revocation/edge-sync.ts'
import { createRevocationWriter } from '../../src/revocation/records.ts'
import {
  createRevocationCheck,
  withRevocationCheck,
} from '../../src/revocation/revocation-check.ts'
import { createSnapshotBuilder } from '../../src/revocation/snapshot-builder.ts'
import { StoreError } from '../../src/store/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import { loadSbbfBackend } from '../../src/wasm/load-worker.ts'
import { publicJwks, signTestToken, TEST_AUDIENCE, TEST_ISSUER } from '../fixtures/keys.ts'

async function edgeWorker(
  options: {
    policy?: 'open' | 'closed'
    down?: () => boolean
    /** Awaited before every stream read: lets a test hold a sync in flight. */
    gate?: () => Promise<void>
  } = {},
) {
  let t = Date.now()
  const clock = Object.assign(() => t, { advance: (ms: number) => void (t += ms) })
  const memory = createMemoryStore({ now: clock })
  // A store that can be made unreachable, as Upstash is during an outage.
  const store: Store = new Proxy(memory, {
    get:
      (target, name: keyof Store) =>
      async (...args: never[]) => {
        if (name === 'readStream') await options.gate?.()
        if (options.down?.()) throw new StoreError('unavailable', String(name), 'unreachable')
        return (target[name] as (...a: never[]) => unknown)(...args)
      },
  })
  const writer = createRevocationWriter({ store, now: clock, maxAccessTokenLifetimeSeconds: 900 })
  const sync = createRevocationSync({
    store,
    backend: loadSbbfBackend(),
    now: clock,
    policy: options.policy ?? 'open',
  })
  const verifier = withRevocationCheck(
    await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
      now: clock,
    }),
    createRevocationCheck({ sync, store, now: clock }),
  )
  const app = createApp({ role: 'edge', verifier, logger: { log: () => {} } })
  /** As src/entry/worker.ts wires it: every request may start a sync inside its waitUntil. */
  const fetchOnce = async (token: string) => {
    const ctx = createExecutionContext()
    sync.maybeSync((promise) => ctx.waitUntil(promise))
    const request = new Request('https://edge.test/verify', {
      headers: { Authorization: `Bearer ${token}` },
    })
    const response = await app.fetch(request, {}, ctx)
    return { response, ctx }
  }
  return { clock, store, writer, sync, fetchOnce }
}

describe('edge revocation inside workerd', () => {
  it('loads the snapshot into the WASM filter and denies a token revoked before', async () => {
    const e = await edgeWorker()
    const token = await signTestToken({ jti: 'gone' }, { now: e.clock() / 1000 })
    await e.writer.revokeToken('gone', e.clock() / 1000 + 300)
    await createSnapshotBuilder({
      store: e.store,
      now: e.clock,
      maxAccessTokenLifetimeSeconds: 900,
      backend: loadSbbfBackend(),
    }).run()
    const { response } = await e.fetchOnce(token)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_token' })
    expect(e.sync.status()).toMatchObject({ implementation: 'wasm-simd', entries: 1 })
  })

  it('syncs in waitUntil: the triggering request is not delayed, the next one is denied', async () => {
    let open: () => void = () => {}
    let gate = Promise.resolve()
    const e = await edgeWorker({ gate: () => gate })
    const token = await signTestToken({ sid: 'sess-1' }, { now: e.clock() / 1000 })
    expect((await e.fetchOnce(token)).response.status).toBe(200)
    await e.writer.revokeSession('sess-1')
    e.clock.advance(2000)
    gate = new Promise((resolve) => (open = resolve))
    const { response, ctx } = await e.fetchOnce(token)
    expect(response.status).toBe(200) // answered while its sync is still held in flight
    open()
    await waitOnExecutionContext(ctx)
    expect(e.sync.status().ageSeconds).toBe(0)
    expect((await e.fetchOnce(token)).response.status).toBe(401)
  })

  it('policy closed: 503 temporarily_unavailable once L2 has been unreachable too long', async () => {
    let down = false
    const e = await edgeWorker({ policy: 'closed', down: () => down })
    const token = await signTestToken({}, { now: e.clock() / 1000 })
    expect((await e.fetchOnce(token)).response.status).toBe(200)
    down = true
    for (let i = 0; i < 16; i++) {
      e.clock.advance(2000)
      const { response, ctx } = await e.fetchOnce(token)
      await waitOnExecutionContext(ctx)
      expect(response.status).toBe(i < 15 ? 200 : 503)
      if (i === 15)
        expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' })
    }
    expect(e.sync.status()).toMatchObject({ stale: true, lastError: 'StoreError' })
    down = false
    e.clock.advance(2000)
    await waitOnExecutionContext((await e.fetchOnce(token)).ctx)
    expect((await e.fetchOnce(token)).response.status).toBe(200)
  })
})
