/**
 * DPoP at the edge (RFC 9449 §7): what a protected resource needs to admit a DPoP-bound access token,
 * the proof checker (core/dpop.ts) and the replay cache (core/dpop-replay.ts), built once per isolate
 * or process, and optionally resource-server nonces (§9, core/dpop-nonce.ts). `authenticate`
 * (authenticate.ts) applies them, with the binding rules of core/dpop-binding.ts, for `/verify`, the
 * gateway and `requireAuth`.
 */
import { createDpopNonces, type DpopNonces } from '../core/dpop-nonce.ts'
import { createDpopProofChecker, type DpopProofChecker } from '../core/dpop.ts'
import {
  createDpopReplayCache,
  type DpopReplayCache,
  type DpopReplayPolicy,
  type DpopReplayStore,
} from '../core/dpop-replay.ts'
import { AuthError } from '../core/errors.ts'
import type { SignatureCheck } from '../core/signature.ts'
import type { Clock, VerifiedToken } from '../core/types.ts'

/** The proof checker and replay cache of one isolate or process. */
export interface DpopGuard {
  checker: DpopProofChecker
  replay: DpopReplayCache
  /** Present when proofs must carry a nonce this service provides (RFC 9449 §9). */
  nonces?: DpopNonces
}

/** Shortest nonce secret accepted, bytes: an HMAC-SHA-256 key of full strength. */
export const MIN_DPOP_NONCE_SECRET_BYTES = 32

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
  /**
   * Resource-server nonces (RFC 9449 §9): with a secret (at least 32 bytes; a string is taken as its
   * UTF-8 bytes), every proof must carry a nonce this service handed out, else 401 `use_dpop_nonce`
   * with the current one in `DPoP-Nonce`. Nonces are stateless — an HMAC of a time period — so every
   * isolate and process given the same secret accepts a nonce any other handed out. Default: none.
   */
  nonceSecret?: string | Uint8Array
  /** Seconds one nonce is handed out; each is accepted in its period and the next. Default 300. */
  noncePeriodSeconds?: number
}

function nonceSourceOf(options: DpopGuardOptions): DpopNonces | undefined {
  const { nonceSecret } = options
  if (nonceSecret === undefined) return undefined
  const secret =
    typeof nonceSecret === 'string' ? new TextEncoder().encode(nonceSecret) : nonceSecret
  if (!(secret instanceof Uint8Array) || secret.length < MIN_DPOP_NONCE_SECRET_BYTES)
    throw new RangeError(`nonceSecret must be at least ${MIN_DPOP_NONCE_SECRET_BYTES} bytes`)
  const copy = secret.slice()
  return createDpopNonces({
    secret: async () => copy,
    ...(options.noncePeriodSeconds === undefined
      ? {}
      : { periodSeconds: options.noncePeriodSeconds }),
    ...(options.now === undefined ? {} : { now: options.now }),
  })
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
  const nonces = nonceSourceOf(options)
  return { checker, replay, ...(nonces === undefined ? {} : { nonces }) }
}

/**
 * The `nonce` rule of a proof checked by `guard` (RFC 9449 §9); undefined when the guard hands out
 * no nonces.
 *
 * @example await checker.check(proof, { method, uris, nonce: nonceCheckOf(guard) })
 */
export function nonceCheckOf(guard: DpopGuard): ((value: string) => Promise<boolean>) | undefined {
  const { nonces } = guard
  return nonces === undefined ? undefined : (value) => nonces.isValid(value)
}

/**
 * `use_dpop_nonce` as the resource server answers it (RFC 9449 §9): 401 with the DPoP challenge and
 * the nonce to use in `DPoP-Nonce`. Other errors are returned as they are.
 *
 * @example throw await withNonceHeader(guard, error)
 */
export async function withNonceHeader(guard: DpopGuard, error: AuthError): Promise<AuthError> {
  if (error.code !== 'dpop_nonce_required' || guard.nonces === undefined) return error
  return new AuthError(error.code, error.description, 'DPoP', {
    'DPoP-Nonce': await guard.nonces.current(),
  })
}

/**
 * The `DPoP-Nonce` to send with an admitted DPoP request (RFC 9449 §8.2, §9), so a client always
 * holds the current nonce before its own expires; undefined, at once, without nonces or for a bearer
 * token (so a bearer answer need not wait for a promise).
 *
 * @example const nonce = await dpopNonceFor(guard, verified) // set as the DPoP-Nonce header
 */
export function dpopNonceFor(
  guard: DpopGuard | undefined,
  verified: VerifiedToken,
): Promise<string> | undefined {
  // A bound token is admitted only with the DPoP scheme (a bearer presentation is refused).
  if (guard?.nonces === undefined || verified.claims.cnf === undefined) return undefined
  return guard.nonces.current()
}
