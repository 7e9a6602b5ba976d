/**
 * Access-token key sets: static (from configuration) or remote (a `jwks_uri`, cached and refreshed).
 * Only asymmetric keys for ES256, ES384, EdDSA, RS256 and PS256 are ever imported here; HMAC keys are
 * skipped, so `HS256` against a public key is impossible by construction (RFC 8725 §2.1).
 */
import { AuthError } from './errors.ts'
import { buildKeys, selectKey } from './key-selection.ts'
import { SIGNING_ALGS } from './keys.ts'
import { parseJsonObject } from './json.ts'
import type { Clock, PublicJwk, SigningAlg, WebCryptoKey } from './types.ts'
import { HTTPS_EXCEPT_LOOPBACK, isHttpsOrLoopback } from './urls.ts'

/** A public key bound to exactly one access-token algorithm. */
export interface VerificationKey {
  kid: string | undefined
  alg: SigningAlg
  /** Public members only, plus `kid`, `alg`, `use`. */
  jwk: PublicJwk
  cryptoKey: WebCryptoKey
}

/** Where verifiers get keys. `getKey` throws `AuthError` (`kid_unknown`, `alg_not_allowed`, `jwks_unavailable`). */
export interface KeySet {
  getKey(kid: string | undefined, alg: string): Promise<VerificationKey>
  /**
   * Optional: the key for `kid` and `alg` when it is known now, without I/O or a refresh due, else
   * `undefined` (then the verifier awaits `getKey`, which also reports why a key is not there). Lets
   * a cold verify skip an await turn (issue 15: cold RS256).
   */
  knownKey?(kid: string | undefined, alg: string): VerificationKey | undefined
}

/** `selectKey` for `knownKey`: a clean match or `undefined` (`getKey` explains failures). */
function matchOrUndefined(
  keys: readonly VerificationKey[],
  kid: string | undefined,
  alg: string,
): VerificationKey | undefined {
  try {
    return selectKey(keys, kid, alg)
  } catch {
    return undefined
  }
}

export interface StaticKeySetOptions {
  /** Allowed algorithms per `kid`, for keys whose JWK has no `alg` (required for RSA keys without one). */
  algorithms?: Record<string, SigningAlg[]>
}

async function importKeySet(
  jwks: unknown,
  algorithms: Record<string, SigningAlg[]> | undefined,
  mode: 'strict' | 'lenient',
): Promise<VerificationKey[]> {
  const keys = await buildKeys(jwks, { algorithms, supported: SIGNING_ALGS, mode })
  return keys as VerificationKey[]
}

/**
 * A key set from configuration, imported once. Rejects (TypeError naming the key) on an invalid
 * key, a private key, duplicate kids or no usable key; skips keys with `use` other than "sig".
 *
 * @example
 * const keys = await createStaticKeySet({ keys: [publicJwk] })
 * const verifier = createAccessTokenVerifier({ issuer, audience, keys })
 */
export async function createStaticKeySet(
  jwks: { keys: unknown[] },
  options: StaticKeySetOptions = {},
): Promise<KeySet> {
  const keys = await importKeySet(jwks, options.algorithms, 'strict')
  return {
    getKey: async (kid, alg) => selectKey(keys, kid, alg),
    knownKey: (kid, alg) => matchOrUndefined(keys, kid, alg),
  }
}

export interface RemoteKeySetOptions {
  /** Injectable for tests and custom transports; default the global `fetch`. */
  fetch?: typeof fetch
  /** Abort a fetch (including reading the body) after this long. Default 3000 ms. */
  timeoutMs?: number
  /** Refresh keys this often, checked on access (Workers have no background timers). Default 300 s. */
  refreshIntervalSeconds?: number
  /** At most one fetch per this window after a failure or an unknown kid. Default 30 s. */
  unknownKidCooldownSeconds?: number
  now?: Clock
  /** Allowed algorithms per `kid`, for keys whose JWK has no `alg`. */
  algorithms?: Record<string, SigningAlg[]>
  /** Refuse a JWKS response larger than this. Default 256 KiB. */
  maxResponseBytes?: number
}

function positive(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new RangeError(`${name} must be a number in (0, ${max}]`)
  }
  return value
}

function checkUrl(url: string | URL): URL {
  const parsed = new URL(url)
  // RFC 8414 §2: jwks_uri is https; plain http only for local development.
  if (!isHttpsOrLoopback(parsed)) throw new TypeError(`jwks_uri ${HTTPS_EXCEPT_LOOPBACK}`)
  return parsed
}

/**
 * A key set fetched from `url`, cached in this isolate or process. Rules:
 * - keys are refreshed when older than `refreshIntervalSeconds`, checked on access (no timers);
 * - an unknown kid triggers a refetch, and no fetch ever starts within `unknownKidCooldownSeconds`
 *   of the previous one, so a flood of bad tokens cannot turn into a flood of fetches;
 * - a failed refresh keeps the last good keys; with none yet, `jwks_unavailable` (a 503);
 * - callers in the same synchronous tick share one fetch, but the pending promise is dropped at the
 *   next microtask: on Workers a promise from one request must not be awaited by another (DESIGN.md,
 *   L1; jose does the same). So on a cold start, requests arriving in different ticks each fetch
 *   until the first fetch lands, like jose's remote key set.
 *
 * @example
 * const keys = createRemoteKeySet('https://issuer.example/.well-known/jwks.json')
 */
export function createRemoteKeySet(url: string | URL, options: RemoteKeySetOptions = {}): KeySet {
  const target = checkUrl(url)
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init))
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 3000, 60_000)
  const refreshMs =
    1000 * positive('refreshIntervalSeconds', options.refreshIntervalSeconds, 300, 86_400)
  const cooldownMs =
    1000 * positive('unknownKidCooldownSeconds', options.unknownKidCooldownSeconds, 30, 3600)
  const maxBytes = positive(
    'maxResponseBytes',
    options.maxResponseBytes,
    256 * 1024,
    16 * 1024 * 1024,
  )
  const now = options.now ?? Date.now
  const algorithms = options.algorithms

  let keys: VerificationKey[] | undefined
  let loadedAt = -Infinity
  let lastAttemptAt = -Infinity
  let lastAttemptFailed = false
  let sameTick: Promise<void> | undefined

  async function download(): Promise<VerificationKey[]> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    try {
      const response = await fetchFn(target, {
        signal: controller.signal,
        headers: { accept: 'application/jwk-set+json, application/json' },
      })
      if (!response.ok) throw new Error('JWKS response status')
      const declared = Number(response.headers.get('content-length') ?? 0)
      if (declared > maxBytes) throw new Error('JWKS response too large')
      const text = await response.text()
      if (text.length > maxBytes) throw new Error('JWKS response too large')
      return await importKeySet(parseJsonObject(text), algorithms, 'lenient')
    } finally {
      clearTimeout(timer)
    }
  }

  async function reload(): Promise<void> {
    lastAttemptAt = now()
    try {
      keys = await download()
      loadedAt = now()
      lastAttemptFailed = false
    } catch {
      // Keep the last good keys (if any); the cooldown limits retries.
      lastAttemptFailed = true
    }
  }

  function reloadOncePerTick(): Promise<void> {
    if (sameTick === undefined) {
      sameTick = reload()
      queueMicrotask(() => {
        sameTick = undefined
      })
    }
    return sameTick
  }

  const coolingDown = () => now() - lastAttemptAt < cooldownMs

  return {
    knownKey(kid, alg) {
      // Only a current copy: a refresh due goes through getKey.
      if (keys === undefined || now() - loadedAt >= refreshMs) return undefined
      return matchOrUndefined(keys, kid, alg)
    },
    async getKey(kid, alg) {
      if (keys === undefined) {
        if (!(lastAttemptFailed && coolingDown())) await reloadOncePerTick()
      } else if (now() - loadedAt >= refreshMs && !coolingDown()) {
        await reloadOncePerTick()
      }
      const current = keys
      if (current === undefined) {
        throw new AuthError('jwks_unavailable', 'signing keys are temporarily unavailable')
      }
      try {
        return selectKey(current, kid, alg)
      } catch (error) {
        // A kid we have never seen may belong to a freshly rotated key: refetch, rate-limited.
        if (!(error instanceof AuthError) || error.code !== 'kid_unknown' || coolingDown())
          throw error
        await reloadOncePerTick()
        return selectKey(keys ?? current, kid, alg)
      }
    },
  }
}
