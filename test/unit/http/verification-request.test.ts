/**
 * `verificationRequestOf`: hands Workers' `waitUntil` to the verifier, and on Node (no execution
 * context) answers without asking Hono's getter, which throws there: an Error with a stack per
 * /verify request cost more than the L1 hit itself (issue 15).
 */
import type { Context } from 'hono'
import { describe, expect, it } from 'vitest'
import { verificationRequestOf } from '../../../src/http/verification-request.ts'

function contextWith(
  env: unknown,
  execution: { waitUntil(p: Promise<unknown>): void } | undefined,
) {
  const asked = { count: 0 }
  const c = {
    env,
    get executionCtx() {
      asked.count++
      if (execution === undefined) throw new Error('This context has no ExecutionContext')
      return execution
    },
  }
  return { c: c as unknown as Context, asked }
}

describe('verificationRequestOf', () => {
  it('on @hono/node-server (env.incoming) answers {} without touching executionCtx', () => {
    const { c, asked } = contextWith({ incoming: {}, outgoing: {} }, undefined)
    expect(verificationRequestOf(c)).toEqual({})
    expect(asked.count).toBe(0)
  })

  it('passes waitUntil through to the execution context on Workers', async () => {
    const handed: Promise<unknown>[] = []
    const { c } = contextWith({}, { waitUntil: (p) => void handed.push(p) })
    const request = verificationRequestOf(c)
    const work = Promise.resolve('synced')
    request.waitUntil?.(work)
    expect(handed).toEqual([work])
  })

  it('answers {} when there is no execution context and no Node bindings (app.request)', () => {
    const { c } = contextWith(undefined, undefined)
    expect(verificationRequestOf(c)).toEqual({})
  })
})
