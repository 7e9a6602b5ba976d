/**
 * The lost revocation found by the chaos suite, reproduced in-process: /revoke whose L2 write fails
 * half-way answers 503, the client retries (RFC 7009 §2.2 makes revocation idempotent), and the retry
 * must not be acknowledged unless the edges will see the revocation. It used to be: the first attempt
 * wrote the record, the event append failed, and the retry found the token "already revoked" and
 * answered 200 with no event in the stream, so the edge filter never learned of it.
 */
import { describe, expect, it } from 'vitest'
import { createRevocationCheck } from '../../../src/revocation/revocation-check.ts'
import { createRevocationSync } from '../../../src/revocation/edge-sync.ts'
import { StoreError } from '../../../src/store/errors.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'
import { basic, createHarness, postForm, SERVICE_SECRET } from '../oauth/support.ts'
import { fakeClock } from './support.ts'

type Fault = 'none' | 'before' | 'reply-lost'

/** The memory store, with appends that fail before reaching L2 or whose reply is lost after. */
function faultyStore(now: () => number) {
  const inner = createMemoryStore({ now })
  const state = { fault: 'none' as Fault }
  const store: Store = {
    ...inner,
    async appendToStream(...args) {
      if (state.fault === 'before') throw new StoreError('unavailable', 'appendToStream', 'down')
      const id = await inner.appendToStream(...args)
      if (state.fault === 'reply-lost')
        throw new StoreError('unavailable', 'appendToStream', 'lost')
      return id
    },
  }
  return { store, state }
}

describe('/revoke retried after an L2 failure', () => {
  for (const fault of ['before', 'reply-lost'] as const) {
    it(`is acknowledged only with its event in the stream (fault: ${fault})`, async () => {
      const clock = fakeClock(Date.now())
      const { store, state } = faultyStore(clock)
      const h = await createHarness({ store, clock })
      const auth = { authorization: basic('service', SERVICE_SECRET) }
      const minted = await postForm(h, '/token', { grant_type: 'client_credentials' }, auth)
      const { access_token: token } = (await minted.json()) as { access_token: string }
      const jti = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).jti

      state.fault = fault
      expect((await postForm(h, '/revoke', { token }, auth)).status).toBe(503)
      state.fault = 'none'
      expect((await postForm(h, '/revoke', { token }, auth)).status).toBe(200)

      const events = await store.readStream('rev:stream', '0', 100)
      expect(events.map((e) => e.fields)).toContainEqual({ kind: 'jti', id: jti })
      // And an edge that syncs after the acknowledgement denies the token.
      const sync = createRevocationSync({ store, now: clock })
      const check = createRevocationCheck({ sync, store, now: clock })
      const claims = { jti, sub: 'service', iat: Math.floor(clock() / 1000) }
      await expect(check({ header: { alg: 'ES256' }, claims } as never)).rejects.toMatchObject({
        code: 'token_revoked',
      })
    })
  }
})
