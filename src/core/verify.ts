/**
 * The access-token verifier (RFC 9068 §4): strict parsing, the key chosen by the key set for the
 * token's kid and the key's own algorithm, the signature, then the claims.
 */
import { checkAccessTokenClaims, type AudienceRule, type ClaimsPolicy } from './claims.ts'
import { AuthError } from './errors.ts'
import type { KeySet, VerificationKey } from './jwks.ts'
import {
  DEFAULT_MAX_TOKEN_LENGTH,
  parseJwsBody,
  parseJwsHeader,
  signedParts,
  splitCompactJws,
} from './jws.ts'
import { lendJwsBody, scratchEpoch } from './jws-scratch.ts'
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
  return { leeway, maxLength, type: type === false ? (false as const) : normaliseType(type), check }
}

/** Verifies a compact JWS's type, key and signature, not its claims; see `createJwsVerifier`. */
export interface JwsVerifier {
  /** Resolves with the header and the parsed payload object, or rejects with an `AuthError`. */
  verify(token: string): Promise<{ header: JwsHeader; payload: Record<string, unknown> }>
}

/** What a verified compact JWS yields: its header and its payload object. */
type VerifiedJws = { header: JwsHeader; payload: Record<string, unknown> }

/**
 * How many distinct header segments a verifier remembers. A verifier sees one per signing key and
 * token type, and a key set holds a handful of keys; headers past this bound are parsed every time.
 */
const KNOWN_HEADERS_MAX = 32

/**
 * The signature half of the verifier: strict parsing, the `typ` check, the key chosen by the key set
 * for the token's kid and the key's own algorithm (RFC 8725 §3.1), the signature. Claims are the
 * caller's: `createAccessTokenVerifier` checks them per RFC 9068; the origin checks an
 * `id_token_hint`, which is usually expired, by issuer only (own-tokens.ts).
 *
 * A header segment that already verified is remembered with the header it parsed to: every token of
 * one key carries the same header segment, so the next one skips decoding and re-checking those same
 * characters (a pure function of them). Only headers of tokens whose signature verified are
 * remembered, so a forged header cannot fill the memory; each caller gets its own copy of the header
 * object.
 *
 * @example const { payload } = await createJwsVerifier({ keys, expectedType: 'JWT' }).verify(token)
 */
export function createJwsVerifier(
  options: Pick<
    AccessTokenVerifierOptions,
    'keys' | 'maxTokenLength' | 'expectedType' | 'checkSignature'
  >,
): JwsVerifier {
  const jws = new JwsCheck(options)
  return {
    async verify(token) {
      const result = jws.run(token)
      return result instanceof Promise ? await result : result
    },
  }
}

/**
 * The JWS verification: `run` answers synchronously when it can (the key is known and the signature
 * check is synchronous, as on the Node origin) and with a promise otherwise; it throws `AuthError`
 * only. The public verifiers wrap it in one `async` function, so a cold verification costs one
 * promise, not one per layer.
 *
 * A class, not closures: an edge holds one per tenant, and a cold verification then reads one object
 * of its tenant here (and the methods every instance shares), not a closure and context per step.
 * The most recent header segment that verified is kept in two fields before the bounded map, so the
 * usual case (one signing key) is a string comparison, with no hashing of the segment.
 */
class JwsCheck {
  private readonly keys: KeySet
  private readonly maxLength: number
  private readonly type: string | false
  private readonly check: SignatureCheck
  /** Whether the check may be handed views into the reused buffer (`SignatureCheck.synchronous`). */
  private readonly lend: boolean
  /** The last header segment remembered, and the header it parsed to ('' / undefined: none). */
  private lastSegment = ''
  private lastHeader: JwsHeader | undefined
  /** Header segment → the header it parsed to, for segments of tokens that verified. */
  private readonly knownHeaders = new Map<string, JwsHeader>()
  /** The key of the last signature check and its signature length (one lookup fewer per token). */
  private lastKey: VerificationKey | undefined
  private lastKeyLength = 0

  constructor(
    options: Pick<
      AccessTokenVerifierOptions,
      'keys' | 'maxTokenLength' | 'expectedType' | 'checkSignature'
    >,
  ) {
    const { maxLength, type, check } = checkOptions({ issuer: '-', audience: '-', ...options })
    this.keys = options.keys
    this.maxLength = maxLength
    this.type = type
    this.check = check
    this.lend = check.synchronous === true
  }

  run(token: string): VerifiedJws | Promise<VerifiedJws> {
    const [dot1, dot2] = splitCompactJws(token, this.maxLength)
    const segment = token.slice(0, dot1)
    const known = segment === this.lastSegment ? this.lastHeader : this.knownHeaders.get(segment)
    const header = known === undefined ? parseJwsHeader(token, dot1) : { ...known }
    const lent = this.lend ? lendJwsBody(token, dot1, dot2) : undefined
    const body = lent ?? parseJwsBody(token, dot1, dot2)
    // A remembered header passed this same check when its token verified (`type` never changes).
    if (known === undefined) this.checkType(header)
    const verified: VerifiedJws = { header, payload: body.payload }
    // A key known now is used without an await turn; otherwise (not loaded, refresh due, unknown
    // kid) getKey fetches or says why there is none.
    const key = this.knownKey(header)
    let { signingInput, signature } = body
    // Lent views hold until the buffer is used again: bytes of their own before an await, or when a
    // key set's code verified another token meanwhile.
    if (lent !== undefined && (key === undefined || lent.epoch !== scratchEpoch())) {
      ;({ signingInput, signature } = signedParts(token, dot2))
    }
    if (key !== undefined) {
      const valid = this.checkSignature(key, header, signingInput, signature)
      if (valid === true) {
        if (known === undefined) this.remember(segment, header)
        return verified
      }
      return valid.then(() => {
        if (known === undefined) this.remember(segment, header)
        return verified
      })
    }
    return this.getKey(header)
      .then((fetched) => this.checkSignature(fetched, header, signingInput, signature))
      .then(() => {
        if (known === undefined) this.remember(segment, header)
        return verified
      })
  }

  private checkType(header: JwsHeader): void {
    if (this.type === false) return
    // RFC 9068 §4 step 1: reject tokens whose typ is not at+jwt (explicit typing, RFC 8725 §3.11).
    if (typeof header.typ !== 'string' || normaliseType(header.typ) !== this.type) {
      throw new AuthError('type_mismatch', 'token type is not accepted')
    }
  }

  /** The key set's `knownKey`, if it has one; whatever a custom one throws means "ask getKey". */
  private knownKey(header: JwsHeader): VerificationKey | undefined {
    try {
      return this.keys.knownKey?.(header.kid, header.alg)
    } catch {
      return undefined
    }
  }

  private async getKey(header: JwsHeader): Promise<VerificationKey> {
    try {
      return await this.keys.getKey(header.kid, header.alg)
    } catch (error) {
      // A custom KeySet may throw anything; callers are promised AuthError only.
      if (error instanceof AuthError) throw error
      throw new AuthError('jwks_unavailable', 'signing keys are temporarily unavailable')
    }
  }

  /** The signature step once the key is there; true or a rejection with `signature_invalid`. */
  private checkSignature(
    key: VerificationKey,
    header: JwsHeader,
    signingInput: Uint8Array,
    signature: Uint8Array,
  ): true | Promise<true> {
    // getKey returns a key for exactly this alg; re-check so a custom KeySet cannot widen it.
    if (key.alg !== header.alg) {
      throw new AuthError('alg_not_allowed', 'token algorithm is not allowed for this key')
    }
    if (key !== this.lastKey) {
      this.lastKeyLength = expectedSignatureLength(key)
      this.lastKey = key
    }
    if (signature.length !== this.lastKeyLength) throw invalidSignature()
    let result: boolean | Promise<boolean>
    try {
      result = this.check(key, signingInput, signature)
    } catch {
      throw invalidSignature()
    }
    // A synchronous check (node:crypto) skips a microtask turn on the hot path.
    if (typeof result === 'boolean') return confirmed(result)
    return Promise.resolve(result).then(confirmed, () => {
      throw invalidSignature()
    })
  }

  /** Remembers a header segment that just verified (see createJwsVerifier). */
  private remember(segment: string, header: JwsHeader): void {
    if (!isFlat(header)) return
    const copy = { ...header }
    this.lastSegment = segment
    this.lastHeader = copy
    if (this.knownHeaders.size < KNOWN_HEADERS_MAX) this.knownHeaders.set(segment, copy)
  }
}

/** Only primitive members: a shallow copy then shares nothing a caller could change. */
const isFlat = (header: JwsHeader): boolean =>
  Object.values(header).every((value) => typeof value !== 'object' || value === null)

const invalidSignature = (): AuthError =>
  new AuthError('signature_invalid', 'token signature is invalid')

/** A check's answer: anything but `true` is an invalid signature. */
function confirmed(valid: boolean): true {
  if (valid !== true) throw invalidSignature()
  return true
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
  return new AccessTokenCheck(new JwsCheck(options), policy, options.now ?? Date.now)
}

/** `createAccessTokenVerifier`'s verifier: a class, for the reason `JwsCheck` is one. */
class AccessTokenCheck implements AccessTokenVerifier {
  private readonly jws: JwsCheck
  private readonly policy: ClaimsPolicy
  private readonly now: Clock

  constructor(jws: JwsCheck, policy: ClaimsPolicy, now: Clock) {
    this.jws = jws
    this.policy = policy
    this.now = now
  }

  async verify(token: string): Promise<VerifiedToken> {
    const result = this.jws.run(token)
    const { header, payload } = result instanceof Promise ? await result : result
    return { header, claims: checkAccessTokenClaims(payload, this.policy, this.now() / 1000) }
  }
}
