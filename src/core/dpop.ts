/**
 * The DPoP proof check (RFC 9449 §4.3), pure: what a proof JWT proves about one request, or an
 * `AuthError` saying why it proves nothing. Shared by the origin's `/token` and every place the edge
 * admits a DPoP-bound token (`/verify`, the gateway, `requireAuth`). The replay cache (dpop-replay.ts)
 * and server nonces (dpop-nonce.ts) are separate: they hold state, this does not.
 *
 * Checks, in the order of §4.3: one well-formed JWT (strict compact parsing, jws.ts); `typ`
 * `dpop+jwt`; `alg` one of {@link DPOP_ALGS} (asymmetric only: never `none`, never HMAC — §4.3
 * step 5, RFC 8725 §3.1); `jwk` a public key of that algorithm with no private member (step 7); the
 * signature with that key (step 6); `jti`, `htm`, `htu`, `iat` present and well-typed (step 3); `htm`
 * equal to the request method (step 8); `htu` equal to the request URI after normalisation (step 9,
 * dpop-htu.ts); `nonce` when the caller requires one (step 10); `iat` inside the window (step 11, §11.1);
 * `ath` equal to the hash of the access token when one is presented (step 12). The key binding
 * (`cnf.jkt`, step 12) is the caller's, with the returned thumbprint.
 *
 * One verifier: the signature goes through the same pluggable `SignatureCheck` and key import as
 * access tokens (keys.ts refuses private members, weak RSA, points off the curve); thumbprints are
 * jose's RFC 7638 `calculateJwkThumbprint`. Imported keys and their thumbprints are kept in a small
 * bounded cache keyed by the thumbprint input itself, and every checked header by its exact text: a
 * client signs every proof with the same header, so after its first proof a request costs the
 * payload's parse, one signature check and a few comparisons (normal forms of `htu` are cached too).
 */
import { calculateJwkThumbprint, type JWK } from 'jose'
import { encodeBase64Url } from './base64url.ts'
import { normaliseHtu } from './dpop-htu.ts'
import { AuthError, isAuthError } from './errors.ts'
import { parseJwsBody, parseJwsHeader, splitCompactJws } from './jws.ts'
import { importJwk, KeyImportError, SIGNING_ALGS, type JwsKey } from './keys.ts'
import {
  expectedSignatureLength,
  webCryptoSignatureCheck,
  type SignatureCheck,
} from './signature.ts'
import type { Clock, SigningAlg } from './types.ts'

/** Proof algorithms accepted (RFC 9449 §4.3 step 5): the asymmetric ones the verifier supports. */
export const DPOP_ALGS: readonly SigningAlg[] = SIGNING_ALGS

/** Default age limit of a proof's `iat`, seconds (RFC 9449 §11.1: "seconds or minutes"). */
export const DEFAULT_DPOP_MAX_AGE_SECONDS = 60

/** How far ahead of our clock a proof's `iat` may be, seconds, before the clock leeway is added. */
export const DPOP_FUTURE_SECONDS = 5

/** Longest proof accepted: an RSA-8192 key in the header stays well inside it. */
export const MAX_DPOP_PROOF_LENGTH = 8192

// RFC 9449 §4.2: jti is a unique identifier; we keep it to visible ASCII so it can be a store key.
const JTI = /^[\x21-\x7e]{1,256}$/
// RFC 9110 §9.1: a method is a token.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/

export interface DpopProofCheckerOptions {
  /** Oldest `iat` accepted, seconds before now. Default 60. */
  maxAgeSeconds?: number
  /** Clock skew tolerated on `iat`, both ways, seconds (the verifier's leeway). Default 0. */
  clockLeewaySeconds?: number
  now?: Clock
  /** The signature step; default WebCrypto. The Node entry passes its preferred check. */
  checkSignature?: SignatureCheck
  /** Imported proof keys kept (one per client key). Default 1,000. */
  keyCacheSize?: number
}

/** The request a proof must match. */
export interface DpopRequest {
  /** The HTTP method (RFC 9449 `htm`), compared exactly. */
  method: string
  /**
   * The request URI, or several URIs that all name this endpoint (the origin's token endpoint as
   * discovery publishes it, and as the request arrived): `htu` must equal one after normalisation.
   */
  uris: readonly string[]
  /** The access token presented with the proof (RFC 9449 §7.1): its hash must be the proof's `ath`. */
  accessToken?: string
  /** `accessTokenHash(accessToken)`, when the caller has it already (it is not recomputed). */
  accessTokenHash?: string
  /** When set, the proof must carry a `nonce` this accepts (RFC 9449 §8, §9). */
  nonce?: (value: string) => boolean | Promise<boolean>
}

/** What a valid proof establishes. */
export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key, base64url: the token's `cnf.jkt` (RFC 9449 §6.1). */
  jkt: string
  jti: string
  /** Seconds since the epoch. */
  iat: number
  alg: SigningAlg
}

export interface DpopProofChecker {
  /** Seconds a proof can stay acceptable: how long its `jti` must be remembered (RFC 9449 §11.1). */
  readonly windowSeconds: number
  /** Resolves with what the proof proves, or rejects with an `AuthError` (never anything else). */
  check(proof: string, request: DpopRequest): Promise<DpopProof>
}

const invalidProof = (why: string) => new AuthError('dpop_proof_invalid', why, 'DPoP')

/** A proof header that passed §4.3 steps 4, 5 and 7: its algorithm and imported key. */
interface KnownHeader {
  alg: SigningAlg
  key: JwsKey
  jkt: string
}

/** Longest header or URI kept in the checker's caches (an RSA-8192 `jwk` header fits). */
const MAX_CACHED_TEXT = 2048

/** Adds to a bounded cache, the oldest entry out first. */
function remember<V>(cache: Map<string, V>, key: string, value: V, size: number): void {
  if (cache.size >= size) cache.delete(cache.keys().next().value!)
  cache.set(key, value)
}

/** The RFC 7638 members of a public key, in the thumbprint's order; undefined for other key types. */
function thumbprintInput(jwk: Record<string, unknown>): string | undefined {
  const members =
    jwk.kty === 'EC'
      ? ['crv', 'kty', 'x', 'y']
      : jwk.kty === 'OKP'
        ? ['crv', 'kty', 'x']
        : jwk.kty === 'RSA'
          ? ['e', 'kty', 'n']
          : undefined
  if (members === undefined) return undefined
  const required: Record<string, unknown> = {}
  for (const name of members) {
    if (typeof jwk[name] !== 'string') return undefined
    required[name] = jwk[name]
  }
  return JSON.stringify(required)
}

/**
 * `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the ASCII access token.
 *
 * @example await accessTokenHash(token) // 43 characters
 */
export async function accessTokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return encodeBase64Url(new Uint8Array(digest))
}

function checkOptions(options: DpopProofCheckerOptions) {
  const maxAge = options.maxAgeSeconds ?? DEFAULT_DPOP_MAX_AGE_SECONDS
  if (!Number.isInteger(maxAge) || maxAge < 1 || maxAge > 600)
    throw new RangeError('maxAgeSeconds must be an integer between 1 and 600')
  const leeway = options.clockLeewaySeconds ?? 0
  if (!Number.isInteger(leeway) || leeway < 0 || leeway > 60)
    throw new RangeError('clockLeewaySeconds must be an integer between 0 and 60')
  const cacheSize = options.keyCacheSize ?? 1000
  if (!Number.isInteger(cacheSize) || cacheSize < 1)
    throw new RangeError('keyCacheSize must be a positive integer')
  const check = options.checkSignature ?? webCryptoSignatureCheck
  if (typeof check !== 'function') throw new TypeError('checkSignature must be a function')
  return { maxAge, leeway, cacheSize, check }
}

/**
 * Builds a proof checker; options are validated here, once.
 *
 * @example
 * const dpop = createDpopProofChecker({ maxAgeSeconds: 60 })
 * const { jkt, jti } = await dpop.check(proofHeader, { method: 'GET', uris: [request.url], accessToken })
 */
export function createDpopProofChecker(options: DpopProofCheckerOptions = {}): DpopProofChecker {
  const { maxAge, leeway, cacheSize, check } = checkOptions(options)
  const now = options.now ?? Date.now
  // Keyed by `alg` + the thumbprint input: the imported key depends on nothing else.
  const keys = new Map<string, { key: JwsKey; jkt: string }>()
  // Keyed by the proof header's text itself: a client signs every proof with one header (alg, typ,
  // jwk), so a hit is a header already checked member by member, and its key imported.
  const headers = new Map<string, KnownHeader>()
  // `htu` and request URIs in normal form (null: not an http(s) URI): the same few URIs recur.
  const normalForms = new Map<string, string | null>()

  async function proofKey(jwk: unknown, alg: SigningAlg): Promise<{ key: JwsKey; jkt: string }> {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
      throw invalidProof('the proof header has no "jwk" object')
    const input = thumbprintInput(jwk as Record<string, unknown>)
    if (input === undefined) throw invalidProof('the proof key is not a supported public key')
    // Private members are refused on every proof: the cache key does not cover them.
    rejectPrivateMembers(jwk as Record<string, unknown>)
    const cacheKey = `${alg}:${input}`
    const cached = keys.get(cacheKey)
    if (cached !== undefined) return cached
    let key: JwsKey | undefined
    try {
      // No `alg` pinning from the JWK beyond the header's: the proof's alg must suit the key.
      ;[key] = await importJwk(
        { ...(jwk as Record<string, unknown>), alg },
        { algorithms: [alg], supported: DPOP_ALGS },
      )
    } catch (error) {
      if (!(error instanceof KeyImportError)) throw error
      throw invalidProof(
        error.problem === 'unusable'
          ? 'the proof key does not suit its algorithm'
          : 'the proof key is not a valid public key',
      )
    }
    if (key === undefined) throw invalidProof('the proof key does not suit its algorithm')
    const entry = { key, jkt: await calculateJwkThumbprint(JSON.parse(input) as JWK, 'sha256') }
    remember(keys, cacheKey, entry, cacheSize)
    return entry
  }

  /** §4.3 steps 4, 5 and 7 on a header not seen before: `typ`, `alg`, the public `jwk`. */
  async function checkHeader(proof: string, dot1: number): Promise<KnownHeader> {
    const header = parseJwsHeader(proof, dot1, { embeddedJwk: true })
    // Step 4: explicit typing (RFC 8725 §3.11); media types compare case-insensitively.
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : ''
    if (typ !== 'dpop+jwt' && typ !== 'application/dpop+jwt')
      throw invalidProof('the proof "typ" is not "dpop+jwt"')
    // Step 5: never none, never a symmetric algorithm, only what we support.
    if (!(DPOP_ALGS as readonly string[]).includes(header.alg))
      throw invalidProof('the proof algorithm is not accepted')
    const alg = header.alg as SigningAlg
    return { alg, ...(await proofKey(header.jwk, alg)) }
  }

  /** The signature check; a boolean when the check is synchronous (node:crypto), no extra tick. */
  function verifySignature(
    key: JwsKey,
    data: Uint8Array,
    signature: Uint8Array,
  ): boolean | Promise<boolean> {
    if (signature.length !== expectedSignatureLength(key)) return false
    try {
      const result = check(key as Parameters<SignatureCheck>[0], data, signature)
      return typeof result === 'boolean' ? result : result.catch(() => false)
    } catch {
      return false
    }
  }

  function normalForm(uri: string): string | undefined {
    const known = normalForms.get(uri)
    if (known !== undefined) return known ?? undefined
    const form = normaliseHtu(uri)
    if (uri.length <= MAX_CACHED_TEXT) remember(normalForms, uri, form ?? null, cacheSize)
    return form
  }

  async function checkProof(proof: string, request: DpopRequest): Promise<DpopProof> {
    // §4.3 step 2: a single well-formed JWT (strict compact parsing, jws.ts); header members we
    // never honour are refused. Steps 4-7 on the header run once per distinct header.
    const [dot1, dot2] = splitCompactJws(proof, MAX_DPOP_PROOF_LENGTH)
    const headerText = proof.slice(0, dot1)
    let header = headers.get(headerText)
    if (header === undefined) {
      header = await checkHeader(proof, dot1)
      if (headerText.length <= MAX_CACHED_TEXT) remember(headers, headerText, header, cacheSize)
    }
    const { alg, key, jkt } = header
    const { payload, signingInput, signature } = parseJwsBody(proof, dot1, dot2)
    // Step 6. A synchronous check (node:crypto) answers at once; an asynchronous one (WebCrypto on
    // Node runs on the thread pool) is awaited after the claim checks of steps 3, 8 and 9, which run
    // meanwhile: a proof with bad claims is refused whatever its signature, and nothing that needs
    // a good proof (a nonce, an admission) happens before the signature is known to be good.
    const valid = verifySignature(key, signingInput, signature)
    if (valid === false) throw invalidProof('the proof signature is invalid')
    // Step 3: required claims, well-typed.
    const { jti, htm, htu, iat } = payload
    if (typeof jti !== 'string' || !JTI.test(jti))
      throw invalidProof('the proof "jti" is missing or not 1-256 visible ASCII characters')
    if (typeof htm !== 'string' || !METHOD.test(htm))
      throw invalidProof('the proof "htm" is missing')
    if (typeof htu !== 'string') throw invalidProof('the proof "htu" is missing')
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      throw invalidProof('the proof "iat" is missing')
    // Step 8: methods are case-sensitive (RFC 9110 §9.1).
    if (htm !== request.method) throw invalidProof('the proof "htm" does not match the request')
    // Step 9.
    const proofUri = normalForm(htu)
    if (proofUri === undefined || !request.uris.some((uri) => normalForm(uri) === proofUri))
      throw invalidProof('the proof "htu" does not match the request')
    if (valid !== true && !(await valid)) throw invalidProof('the proof signature is invalid')
    // Step 10 (§8, §9): the server's nonce, when it asks for one.
    if (request.nonce !== undefined) {
      const nonce = payload.nonce
      if (typeof nonce !== 'string' || !(await request.nonce(nonce)))
        throw new AuthError('dpop_nonce_required', 'a fresh DPoP-Nonce is required', 'DPoP')
    }
    // Step 11 (§11.1): recent, and not from the future beyond the skew we allow.
    const nowSeconds = now() / 1000
    if (iat < nowSeconds - maxAge - leeway) throw invalidProof('the proof is too old')
    if (iat > nowSeconds + DPOP_FUTURE_SECONDS + leeway)
      throw invalidProof('the proof "iat" is in the future')
    // Step 12 (§7.1): bound to the access token presented with it.
    if (request.accessToken !== undefined) {
      if (typeof payload.ath !== 'string') throw invalidProof('the proof "ath" is missing')
      const expected = request.accessTokenHash ?? (await accessTokenHash(request.accessToken))
      if (payload.ath !== expected)
        throw invalidProof('the proof "ath" does not match the access token')
    }
    return { jkt, jti, iat, alg }
  }

  return {
    windowSeconds: maxAge + DPOP_FUTURE_SECONDS + 2 * leeway,
    async check(proof, request) {
      try {
        return await checkProof(proof, request)
      } catch (error) {
        // Parsing errors (token_malformed, header_untrusted, ...) describe the proof, not a token.
        // Anything not an AuthError (a nonce store outage) is ours and propagates as it is.
        if (!isAuthError(error) || error.code.startsWith('dpop_')) throw error
        throw invalidProof(`the proof is malformed: ${error.description}`)
      }
    },
  }
}

// RFC 9449 §4.3 step 7, RFC 7518 §6.2.2 / §6.3.2, RFC 8037 §2: members only a private key has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

function rejectPrivateMembers(jwk: Record<string, unknown>): void {
  for (const name of PRIVATE_MEMBERS)
    if (Object.hasOwn(jwk, name)) throw invalidProof('the proof "jwk" holds a private key')
}
