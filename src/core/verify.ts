/**
 * The access-token verifier (RFC 9068 §4): strict parsing, the key chosen by the key set for the
 * token's kid and the key's own algorithm, the signature, then the claims.
 */
import { checkAccessTokenClaims, type AudienceRule, type ClaimsPolicy } from './claims.ts'
import { AuthError } from './errors.ts'
import type { KeySet } from './jwks.ts'
import { DEFAULT_MAX_TOKEN_LENGTH, parseCompactJws } from './jws.ts'
import {
  expectedSignatureLength,
  webCryptoSignatureCheck,
  type SignatureCheck,
} from './signature.ts'
import type { Clock, JwsHeader, VerifiedToken } from './types.ts'

export { webCryptoSignatureCheck, type SignatureCheck } from './signature.ts'

export interface AccessTokenVerifierOptions {
  /** Exact `iss` to accept. */
  issuer: string
  /** `aud` must be this string or an array containing it; or a rule over the `aud` list. */
  audience: string | AudienceRule
  keys: KeySet
  /** Clock skew tolerated for exp/nbf/iat. Default 0, at most 60. */
  clockLeewaySeconds?: number
  /** Longest token accepted, in characters. Default 8192. */
  maxTokenLength?: number
  /** Required header `typ` (case-insensitive, "application/" optional). Default "at+jwt"; false: any. */
  expectedType?: string | false
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: Clock
  /** The signature step. Default WebCrypto; on Node, `nodeSignatureCheck` is faster. */
  checkSignature?: SignatureCheck
}

export interface AccessTokenVerifier {
  /** Resolves with the verified header and claims, or rejects with an `AuthError` (never anything else). */
  verify(token: string): Promise<VerifiedToken>
}

export const MAX_CLOCK_LEEWAY_SECONDS = 60

/** RFC 7515 §4.1.9: media types compare case-insensitively and may omit the "application/" prefix. */
function normaliseType(type: string): string {
  const lower = type.toLowerCase()
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower
}

function checkOptions(options: AccessTokenVerifierOptions) {
  if (typeof options.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('issuer must be a non-empty string')
  }
  const audience = options.audience
  if (typeof audience !== 'function' && (typeof audience !== 'string' || audience === '')) {
    throw new TypeError('audience must be a non-empty string or a function')
  }
  if (typeof options.keys?.getKey !== 'function') throw new TypeError('keys must be a KeySet')
  const leeway = options.clockLeewaySeconds ?? 0
  if (typeof leeway !== 'number' || !(leeway >= 0 && leeway <= MAX_CLOCK_LEEWAY_SECONDS)) {
    throw new RangeError(`clockLeewaySeconds must be between 0 and ${MAX_CLOCK_LEEWAY_SECONDS}`)
  }
  const maxLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH
  if (!Number.isSafeInteger(maxLength) || maxLength < 16) {
    throw new RangeError('maxTokenLength must be an integer of at least 16')
  }
  const type = options.expectedType ?? 'at+jwt'
  if (type !== false && (typeof type !== 'string' || type === '')) {
    throw new TypeError('expectedType must be a non-empty string or false')
  }
  const check = options.checkSignature ?? webCryptoSignatureCheck
  if (typeof check !== 'function') throw new TypeError('checkSignature must be a function')
  return { leeway, maxLength, type: type === false ? false : normaliseType(type), check }
}

/** Verifies a compact JWS's type, key and signature, not its claims; see `createJwsVerifier`. */
export interface JwsVerifier {
  /** Resolves with the header and the parsed payload object, or rejects with an `AuthError`. */
  verify(token: string): Promise<{ header: JwsHeader; payload: Record<string, unknown> }>
}

/**
 * The signature half of the verifier: strict parsing, the `typ` check, the key chosen by the key set
 * for the token's kid and the key's own algorithm (RFC 8725 §3.1), the signature. Claims are the
 * caller's: `createAccessTokenVerifier` checks them per RFC 9068; the origin checks an
 * `id_token_hint`, which is usually expired, by issuer only (own-tokens.ts).
 *
 * @example const { payload } = await createJwsVerifier({ keys, expectedType: 'JWT' }).verify(token)
 */
export function createJwsVerifier(
  options: Pick<
    AccessTokenVerifierOptions,
    'keys' | 'maxTokenLength' | 'expectedType' | 'checkSignature'
  >,
): JwsVerifier {
  const { maxLength, type, check } = checkOptions({ issuer: '-', audience: '-', ...options })
  const keys = options.keys

  function checkType(header: JwsHeader): void {
    if (type === false) return
    // RFC 9068 §4 step 1: reject tokens whose typ is not at+jwt (explicit typing, RFC 8725 §3.11).
    if (typeof header.typ !== 'string' || normaliseType(header.typ) !== type) {
      throw new AuthError('type_mismatch', 'token type is not accepted')
    }
  }

  /** The key set's `knownKey`, if it has one; whatever a custom one throws means "ask getKey". */
  function knownKey(header: JwsHeader) {
    try {
      return keys.knownKey?.(header.kid, header.alg)
    } catch {
      return undefined
    }
  }

  async function getKey(header: JwsHeader) {
    try {
      return await keys.getKey(header.kid, header.alg)
    } catch (error) {
      // A custom KeySet may throw anything; callers are promised AuthError only.
      if (error instanceof AuthError) throw error
      throw new AuthError('jwks_unavailable', 'signing keys are temporarily unavailable')
    }
  }

  return {
    async verify(token) {
      const { header, payload, signingInput, signature } = parseCompactJws(token, maxLength)
      checkType(header)
      // A key known now is used without an await turn; otherwise (not loaded, refresh due, unknown
      // kid) getKey fetches or says why there is none.
      const key = knownKey(header) ?? (await getKey(header))
      // getKey returns a key for exactly this alg; re-check so a custom KeySet cannot widen it.
      if (key.alg !== header.alg) {
        throw new AuthError('alg_not_allowed', 'token algorithm is not allowed for this key')
      }
      let valid = false
      if (signature.length === expectedSignatureLength(key)) {
        try {
          const result = check(key, signingInput, signature)
          // A synchronous check (node:crypto) skips a microtask turn on the hot path.
          valid = typeof result === 'boolean' ? result : await result
        } catch {
          valid = false
        }
      }
      if (valid !== true) throw new AuthError('signature_invalid', 'token signature is invalid')
      return { header, payload }
    },
  }
}

/**
 * Builds a verifier for RFC 9068 access tokens; options are validated here, once.
 *
 * @example
 * const verifier = createAccessTokenVerifier({
 *   issuer: 'https://issuer.example',
 *   audience: 'https://api.example',
 *   keys: createRemoteKeySet('https://issuer.example/jwks.json'),
 * })
 * const { claims } = await verifier.verify(token)
 */
export function createAccessTokenVerifier(
  options: AccessTokenVerifierOptions,
): AccessTokenVerifier {
  const { leeway } = checkOptions(options)
  const policy: ClaimsPolicy = {
    issuer: options.issuer,
    audience: options.audience,
    leewaySeconds: leeway,
  }
  const jws = createJwsVerifier(options)
  const now = options.now ?? Date.now
  return {
    async verify(token) {
      const { header, payload } = await jws.verify(token)
      return { header, claims: checkAccessTokenClaims(payload, policy, now() / 1000) }
    },
  }
}
