/**
 * An edge isolate wired as the entries wire it (real verifier, L1 cache, revocation check around it,
 * the WASM filter) over the production Upstash store, on a fake clock, plus an origin-side writer
 * that is a separate client (its own sync token, as a real origin is). For the revocation tests
 * against the bridge (with replica lag) and, under `npm run test:upstash`, against real Upstash.
 */
import { AuthError } from '../../../src/core/errors.ts'
import { buildVerifier } from '../../../src/http/build-verifier.ts'
import type { TokenVerifier } from '../../../src/http/types.ts'
import { createRevocationSync, type RevocationSync } from '../../../src/revocation/edge-sync.ts'
import { createRevocationWriter, type RevocationWriter } from '../../../src/revocation/records.ts'
import {
  createRevocationCheck,
  withRevocationCheck,
} from '../../../src/revocation/revocation-check.ts'
import { createSnapshotBuilder } from '../../../src/revocation/snapshot-builder.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import type { Store } from '../../../src/store/types.ts'
import { loadSbbfBackend } from '../../../src/wasm/load-node.ts'
import { publicJwks, TEST_AUDIENCE, TEST_ISSUER } from '../../fixtures/keys.ts'
import type { RedisWithBridge } from '../../support/redis.ts'
import { fakeClock, waitUntilCollector, type FakeClock } from '../../unit/revocation/support.ts'

export const SYNC_SECONDS = 2
export const SYNC_TIMEOUT_MS = 1000
export const STEP_MS = 50

export interface Edge {
  clock: FakeClock
  store: Store
  writer: RevocationWriter
  sync: RevocationSync
  verifier: TokenVerifier
  settle(): Promise<void>
  /** One request at the edge: start a due sync, verify. True = allowed, false = token_revoked. */
  request(token: string): Promise<boolean>
}

/**
 * A fresh edge with its own key prefix (pushed to `prefixes`, for cleanup), whose snapshot already
 * lists `already-revoked`.
 *
 * @example const e = await edgeOver(env, prefixes)
 */
export async function edgeOver(env: RedisWithBridge, prefixes: string[]): Promise<Edge> {
  const clock = fakeClock(Date.now())
  // A fresh key prefix per edge: a clean stream and snapshot, isolated from other tests. The origin
  // and the edge are separate clients: the edge never holds the writer's sync token.
  const keyPrefix = `gatehouse-test:rev-e2e-${crypto.randomUUID()}:`
  prefixes.push(keyPrefix)
  const origin = createUpstashStore({ url: env.url, token: env.token, keyPrefix })
  const store = createUpstashStore({ url: env.url, token: env.token, keyPrefix })
  const writer = createRevocationWriter({
    store: origin,
    now: clock,
    maxAccessTokenLifetimeSeconds: 900,
  })
  await writer.revokeToken('already-revoked', clock() / 1000 + 600)
  await createSnapshotBuilder({
    store: origin,
    now: clock,
    maxAccessTokenLifetimeSeconds: 900,
  }).run()
  const bg = waitUntilCollector()
  const sync = createRevocationSync({
    store,
    backend: loadSbbfBackend(),
    now: clock,
    syncSeconds: SYNC_SECONDS,
    syncTimeoutMs: SYNC_TIMEOUT_MS,
  })
  const cached = await buildVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    keySource: { kind: 'inline', jwks: publicJwks() },
    now: clock,
  })
  const verifier = withRevocationCheck(cached, createRevocationCheck({ sync, store, now: clock }))
  return {
    clock,
    store,
    writer,
    sync,
    verifier,
    settle: () => bg.settle(),
    async request(token) {
      sync.maybeSync(bg.waitUntil)
      try {
        await verifier.verify(token)
        return true
      } catch (e) {
        if (e instanceof AuthError && e.code === 'token_revoked') return false
        throw e
      }
    },
  }
}

/** Requests every STEP_MS of simulated time until one is denied; simulated ms since `from`. */
export async function msUntilDenied(e: Edge, token: string, from: number): Promise<number> {
  for (let step = 0; step < 400; step++) {
    const allowed = await e.request(token)
    await e.settle()
    if (!allowed) return e.clock() - from
    e.clock.advance(STEP_MS)
  }
  throw new Error('never denied')
}
