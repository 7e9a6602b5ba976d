/**
 * Assembles the verifier the routes use from plain options: the key set (inline or remote), the core
 * verifier, and the L1 token cache in front of it. Shared by both entries and by `requireAuth` when it
 * is given `{ issuer, audience, jwks | jwksUrl }` rather than a ready verifier.
 */
import { createCachedVerifier } from '../cache/cached-verifier.ts'
import { createTokenCache } from '../cache/token-cache.ts'
import type { KeySource } from '../core/config.ts'
import { createRemoteKeySet, createStaticKeySet, type KeySet } from '../core/jwks.ts'
import type { Clock } from '../core/types.ts'
import { createAccessTokenVerifier } from '../core/verify.ts'
import {
  createRevocationCheck,
  withRevocationCheck,
  type RevocationSync,
} from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import type { TokenVerifier } from './types.ts'

type CoreOptions = Parameters<typeof createAccessTokenVerifier>[0]

export interface BuildVerifierOptions {
  issuer: string
  audience: string
  /** Where keys come from, unless `keySet` is given. */
  keySource?: KeySource
  /**
   * A ready key set used instead of `keySource`: the edge's L2 key source (edge-keys.ts) or the
   * origin's own managed keys.
   */
  keySet?: KeySet
  /** Seconds of clock skew tolerated on exp/nbf/iat. Default: the core verifier's. */
  clockLeewaySeconds?: number
  /** L1 cache size; 0 turns the cache off. Default 10,000. */
  l1MaxEntries?: number
  /** A runtime-specific signature check (the Node entry passes `nodeSignatureCheck`). */
  checkSignature?: NonNullable<CoreOptions['checkSignature']>
  /** Used to fetch a remote JWKS. Default `globalThis.fetch`. */
  fetch?: typeof fetch
  jwksRefreshSeconds?: number
  jwksTimeoutMs?: number
  now?: Clock
  /**
   * Edge revocation: every verification, L1 hits included, probes the filter for jti, sid, sub and kid and
   * confirms hits in L2 (src/revocation/). Without it tokens are valid until `exp`.
   */
  revocation?: { sync: RevocationSync; store: Pick<Store, 'get'> }
}

/**
 * Builds a ready verifier. Async because an inline key set is imported (WebCrypto) up front, so a bad
 * key fails at start, not on the first request. A remote key set is fetched lazily by the core.
 *
 * @example
 * const verifier = await buildVerifier({ issuer, audience, keySource: { kind: 'url', url } })
 */
export async function buildVerifier(options: BuildVerifierOptions): Promise<TokenVerifier> {
  // Read at call time (not captured), so a test's fake clock reaches every part.
  const now = options.now ?? (() => Date.now())
  const keySource = options.keySource
  if (!options.keySet && !keySource)
    throw new TypeError('buildVerifier: keySource or keySet required')
  const keys = options.keySet ?? (await buildKeySet({ ...options, keySource: keySource! }))
  const verifier = createAccessTokenVerifier({
    issuer: options.issuer,
    audience: options.audience,
    keys,
    now,
    ...(options.clockLeewaySeconds === undefined
      ? {}
      : { clockLeewaySeconds: options.clockLeewaySeconds }),
    ...(options.checkSignature === undefined ? {} : { checkSignature: options.checkSignature }),
  })
  const maxEntries = options.l1MaxEntries ?? 10_000
  const base =
    maxEntries === 0
      ? verifier
      : createCachedVerifier(verifier, createTokenCache({ maxEntries, now }))
  // The check wraps the cache: a cached token is still checked, because L1 holds verified tokens, not
  // "not revoked" answers (the filter probe costs ~0.2 µs).
  if (options.revocation === undefined) return base
  return withRevocationCheck(base, createRevocationCheck({ ...options.revocation, now }))
}

/**
 * The key set `keySource` names: an inline set imported now (a bad key fails at start), or a remote
 * JWKS fetched lazily.
 *
 * @example const keys = await buildKeySet({ keySource: { kind: 'url', url } })
 */
export async function buildKeySet(
  options: Pick<BuildVerifierOptions, 'fetch' | 'now' | 'jwksTimeoutMs' | 'jwksRefreshSeconds'> & {
    keySource: KeySource
  },
): Promise<KeySet> {
  if (options.keySource.kind === 'inline') return createStaticKeySet(options.keySource.jwks)
  return createRemoteKeySet(options.keySource.url, {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    now: options.now ?? (() => Date.now()),
    ...(options.jwksTimeoutMs === undefined ? {} : { timeoutMs: options.jwksTimeoutMs }),
    ...(options.jwksRefreshSeconds === undefined
      ? {}
      : { refreshIntervalSeconds: options.jwksRefreshSeconds }),
  })
}
