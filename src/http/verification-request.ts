/**
 * The part of a request a verifier may use (`VerificationRequest`): on Workers, `waitUntil`, so a
 * revocation or tenant-registry sync a verification starts outlives the response. Node has no
 * execution context (`c.executionCtx` throws there) and needs none.
 *
 * @example const verified = await verifier.verify(token, verificationRequestOf(c))
 */
import type { Context } from 'hono'
import type { VerificationRequest } from './types.ts'

const NONE: VerificationRequest = {}

export function verificationRequestOf(c: Context): VerificationRequest {
  // On @hono/node-server (its bindings carry `incoming`) there is never an execution context; asking
  // Hono's getter would throw, and building that Error with its stack cost more than the whole L1
  // hit on every /verify (issue 15, measured ~10 µs on the shared machine).
  if ((c.env as { incoming?: unknown } | undefined)?.incoming !== undefined) return NONE
  let execution: { waitUntil(promise: Promise<unknown>): void } | undefined
  try {
    execution = c.executionCtx
  } catch {
    return NONE
  }
  return { waitUntil: (promise) => execution.waitUntil(promise) }
}
