/**
 * Test support for the revocation suites: a fake clock, and a Store wrapper around the memory store
 * that counts calls and can be switched to fail (StoreError 'unavailable') or hang, the way an
 * unreachable Upstash behaves. The code under test sees only the Store interface.
 */
import { StoreError } from '../../../src/store/errors.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'

export interface FakeClock {
  (): number
  advance(ms: number): void
  set(ms: number): void
}

export function fakeClock(start = 1_750_000_000_000): FakeClock {
  let t = start
  const clock = (() => t) as FakeClock
  clock.advance = (ms) => void (t += ms)
  clock.set = (ms) => void (t = ms)
  return clock
}

export interface ControlledStore extends Store {
  /** Calls per method since the last reset. */
  calls: Record<string, number>
  mode: 'up' | 'down' | 'hang'
  resetCalls(): void
}

export function controlledStore(inner: Store = createMemoryStore()): ControlledStore {
  const calls: Record<string, number> = {}
  const wrapped = {
    calls,
    mode: 'up',
    resetCalls: () => void Object.keys(calls).forEach((k) => delete calls[k]),
  } as ControlledStore
  for (const name of Object.keys(inner) as (keyof Store)[]) {
    ;(wrapped as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      calls[name] = (calls[name] ?? 0) + 1
      if (wrapped.mode === 'down') {
        return Promise.reject(new StoreError('unavailable', name, 'unreachable'))
      }
      if (wrapped.mode === 'hang') return new Promise(() => {})
      return (inner[name] as (...a: unknown[]) => unknown)(...args)
    }
  }
  return wrapped
}

/** Collects what code hands to `waitUntil`, so a test can await it (no sleeps). */
export function waitUntilCollector() {
  const pending: Promise<unknown>[] = []
  return {
    waitUntil: (p: Promise<unknown>) => void pending.push(p),
    get count() {
      return pending.length
    },
    async settle() {
      while (pending.length > 0) await pending.shift()
    },
  }
}

export const claimsOf = (claims: Record<string, unknown>) => ({
  header: { alg: 'ES256' },
  claims: {
    iss: 'https://issuer.test',
    aud: 'https://api.test',
    sub: 'user-1',
    exp: 1_750_000_900,
    iat: 1_750_000_000,
    jti: 'jti-1',
    ...claims,
  },
})
