/**
 * The part of a request a verifier may use (`VerificationRequest`): on Workers, `waitUntil`, so a
 * revocation or tenant-registry sync a verification starts outlives the response. Node has no
 * execution context (`c.executionCtx` throws there) and needs none.
 *
 * @example const verified = await verifier.verify(token, verificationRequestOf(c))
 */
import type { Context, ExecutionContext } from 'hono'
import type { VerificationRequest } from './types.ts'

const NONE: VerificationRequest = {}

export function verificationRequestOf(c: Context): VerificationRequest {
  const execution = executionContextOf(c)
  return execution ? { waitUntil: (promise) => execution.waitUntil(promise) } : NONE
}

/**
 * The Workers execution context of a request, undefined on Node. On @hono/node-server (its bindings
 * carry `incoming`) there is never one; asking Hono's getter would throw, and building that Error
 * with its stack cost more than the whole L1 hit on every /verify (issue 15, measured ~10 µs on the
 * shared machine).
 *
 * @example tenant.routes.fetch(c.req.raw, c.env, executionContextOf(c))
 */
export function executionContextOf(c: Context): ExecutionContext | undefined {
  if ((c.env as { incoming?: unknown } | undefined)?.incoming !== undefined) return undefined
  try {
    return c.executionCtx
  } catch {
    return undefined
  }
}
