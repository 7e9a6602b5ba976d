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
  let execution: { waitUntil(promise: Promise<unknown>): void } | undefined
  try {
    execution = c.executionCtx
  } catch {
    return NONE
  }
  return { waitUntil: (promise) => execution.waitUntil(promise) }
}
