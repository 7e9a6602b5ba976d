/**
 * DPoP at the token endpoint (RFC 9449 §5, §8): the proof of a token request is checked in the
 * validation phase of /token (token-endpoint.ts), so a refused proof spends no code and rotates no
 * refresh token. The proof checker, the replay cache and the server nonces are the core's
 * (core/dpop*.ts), built here once per origin process from the store and the clock.
 *
 * What a proof decides (RFC 9449 §5):
 * - a client with `requireDpop` (its registration's `dpop_bound_access_tokens`, §5.2) must send one;
 * - a client with `dpopNonce` must put our current `DPoP-Nonce` in it (§8), else `use_dpop_nonce`
 *   with a fresh nonce in the `DPoP-Nonce` header;
 * - the access token is bound to the proof key (`cnf.jkt`, §6.1; `token_type: DPoP`);
 * - a public client's refresh token is bound to it too: every refresh must prove the same key. A
 *   confidential client's is not (it authenticates already); its new access token is bound to
 *   whichever key its proof shows.
 *
 * @example
 * const dpop = createOriginDpop({ store, maxAgeSeconds: 60, replayPolicy: 'open' })
 * const jkt = await checkTokenRequestProof(dpop, client, proofHeader, [tokenEndpoint], undefined)
 */
import { encodeBase64Url } from '../base64url.ts'
import { createDpopNonces, type DpopNonces } from '../dpop-nonce.ts'
import {
  createDpopReplayCache,
  type DpopReplayCache,
  type DpopReplayPolicy,
} from '../dpop-replay.ts'
import { createDpopProofChecker, type DpopProofChecker } from '../dpop.ts'
import { AuthError } from '../errors.ts'
import type { SignatureCheck } from '../signature.ts'
import type { Clock } from '../types.ts'
import type { ClientConfig } from './config.ts'
import { OAuthError } from './errors.ts'
import { keys, type OAuthStore } from './store.ts'

/** The origin's DPoP parts, one set per process. */
export interface OriginDpop {
  checker: DpopProofChecker
  replay: DpopReplayCache
  nonces: DpopNonces
}

export interface OriginDpopOptions {
  store: Pick<OAuthStore, 'get' | 'set'>
  /** Oldest proof `iat` accepted, seconds. Default 60. */
  maxAgeSeconds?: number
  /** While L2 is unreachable. Default `open`. */
  replayPolicy?: DpopReplayPolicy
  clock?: Clock
  checkSignature?: SignatureCheck
}

/**
 * The nonce secret, shared by every origin process through L2: created once (set-if-absent), then
 * read. A process keeps it for its lifetime.
 */
async function nonceSecret(store: Pick<OAuthStore, 'get' | 'set'>): Promise<Uint8Array> {
  const fresh = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)))
  await store.set(keys.dpopNonceSecret(), fresh, { ifAbsent: true })
  const stored = await store.get(keys.dpopNonceSecret())
  if (stored === null) throw new OAuthError('temporarily_unavailable', 'Please retry.')
  return new TextEncoder().encode(stored)
}

/**
 * Builds the origin's proof checker, replay cache (L1 + L2) and nonce source.
 *
 * @example const dpop = createOriginDpop({ store })
 */
export function createOriginDpop(options: OriginDpopOptions): OriginDpop {
  const { store } = options
  const now = options.clock ?? Date.now
  const checker = createDpopProofChecker({
    now,
    ...(options.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: options.maxAgeSeconds }),
    ...(options.checkSignature === undefined ? {} : { checkSignature: options.checkSignature }),
  })
  const replay = createDpopReplayCache({
    store: { set: (key, value, o) => store.set(key, value, o) },
    windowSeconds: checker.windowSeconds,
    now,
    ...(options.replayPolicy === undefined ? {} : { policy: options.replayPolicy }),
  })
  let secret: Uint8Array | undefined
  const nonces = createDpopNonces({
    now,
    secret: async () => (secret ??= await nonceSecret(store)),
  })
  return { checker, replay, nonces }
}

/** The token endpoint's answer to a failed proof check (RFC 9449 §5, §8). */
async function asTokenError(error: unknown, dpop: OriginDpop): Promise<unknown> {
  if (!(error instanceof AuthError)) return error
  if (error.code === 'dpop_nonce_required')
    return new OAuthError(
      'use_dpop_nonce',
      'Use the DPoP-Nonce this server provides.',
      400,
      undefined,
      {
        'DPoP-Nonce': await dpop.nonces.current(),
      },
    )
  if (error.code === 'dpop_replay_unavailable')
    return new OAuthError('temporarily_unavailable', 'DPoP proofs cannot be checked right now.')
  return new OAuthError('invalid_dpop_proof', capitalise(error.description))
}

const capitalise = (s: string): string => `${s.charAt(0).toUpperCase()}${s.slice(1)}.`

const invalidProof = (description: string) => new OAuthError('invalid_dpop_proof', description)

/** A proof of a token request, checked but not yet spent: `claim` records its use. */
export interface TokenRequestProof {
  jkt: string
  claim(): Promise<void>
}

/**
 * Checks the `DPoP` header of a token request for `client` (`header` is `Headers.get('DPoP')`):
 * undefined when there is none and none is needed, else the checked proof, or an `OAuthError`
 * (`invalid_dpop_proof`, `use_dpop_nonce`). `boundTo` is the key a refresh token is bound to. The
 * replay record is written only by `claim`, the last step of validation.
 *
 * @example const proof = await checkTokenRequestProof(dpop, client, header, [tokenUrl], family.jkt)
 */
export async function checkTokenRequestProof(
  dpop: OriginDpop,
  client: ClientConfig,
  header: string | null,
  uris: readonly string[],
  boundTo: string | undefined,
): Promise<TokenRequestProof | undefined> {
  if (header === null) {
    if (client.requireDpop) throw invalidProof('This client must send a DPoP proof.')
    if (boundTo !== undefined)
      throw invalidProof('The refresh token is bound to a DPoP key: send a proof.')
    return undefined
  }
  // RFC 9449 §4.3 step 1: exactly one header (several are joined with ", ").
  if (header === '' || /[\s,]/.test(header)) throw invalidProof('Send exactly one DPoP proof.')
  let jkt: string
  let jti: string
  try {
    ;({ jkt, jti } = await dpop.checker.check(header, {
      method: 'POST',
      uris,
      ...(client.dpopNonce ? { nonce: (value: string) => dpop.nonces.isValid(value) } : {}),
    }))
  } catch (error) {
    throw await asTokenError(error, dpop)
  }
  if (boundTo !== undefined && boundTo !== jkt)
    throw invalidProof('The refresh token is bound to another DPoP key.')
  return {
    jkt,
    async claim() {
      try {
        await dpop.replay.claim(jkt, jti)
      } catch (error) {
        throw await asTokenError(error, dpop)
      }
    },
  }
}
