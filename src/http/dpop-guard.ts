/**
 * DPoP at the edge (RFC 9449 §7): what a protected resource needs to admit a DPoP-bound access token,
 * the proof checker (core/dpop.ts) and the replay cache (core/dpop-replay.ts), built once per isolate
 * or process. `authenticate` (authenticate.ts) applies them, with the binding rules of
 * core/dpop-binding.ts, for `/verify`, the gateway and `requireAuth`.
 */
import { createDpopProofChecker, type DpopProofChecker } from '../core/dpop.ts'
import {
  createDpopReplayCache,
  type DpopReplayCache,
  type DpopReplayPolicy,
  type DpopReplayStore,
} from '../core/dpop-replay.ts'
import type { SignatureCheck } from '../core/signature.ts'
import type { Clock } from '../core/types.ts'

/** The proof checker and replay cache of one isolate or process. */
export interface DpopGuard {
  checker: DpopProofChecker
  replay: DpopReplayCache
}

export interface DpopGuardOptions {
  /** L2 for the replay cache (`set` with `ifAbsent` and a TTL); absent, replay is caught in L1 only. */
  store?: DpopReplayStore
  /** While L2 is unreachable: `open` accepts on L1 alone, `closed` answers 503. Default `open`. */
  replayPolicy?: DpopReplayPolicy
  /** Oldest proof `iat` accepted, seconds. Default 60. */
  maxAgeSeconds?: number
  clockLeewaySeconds?: number
  checkSignature?: SignatureCheck
  now?: Clock
  /** L2 failed and the policy decided (a log line; never the proof). */
  onStoreFailure?: (error: unknown, decision: 'accepted' | 'refused') => void
}

/**
 * Builds the guard; options are checked here, once.
 *
 * @example const dpop = createDpopGuard({ store, replayPolicy: 'open' })
 */
export function createDpopGuard(options: DpopGuardOptions = {}): DpopGuard {
  const checker = createDpopProofChecker({
    ...(options.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: options.maxAgeSeconds }),
    ...(options.clockLeewaySeconds === undefined
      ? {}
      : { clockLeewaySeconds: options.clockLeewaySeconds }),
    ...(options.checkSignature === undefined ? {} : { checkSignature: options.checkSignature }),
    ...(options.now === undefined ? {} : { now: options.now }),
  })
  const replay = createDpopReplayCache({
    windowSeconds: checker.windowSeconds,
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.replayPolicy === undefined ? {} : { policy: options.replayPolicy }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.onStoreFailure === undefined ? {} : { onStoreFailure: options.onStoreFailure }),
  })
  return { checker, replay }
}
