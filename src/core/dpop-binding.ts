/**
 * DPoP at a protected resource (RFC 9449 §7), the rules around the proof check: exactly one `DPoP`
 * header, the key binding (`cnf.jkt`, RFC 9449 §6.1) and the refusal of a bound token presented as a
 * bearer token (§7.2). Used by the edge (`/verify`, the gateway, `requireAuth`, through
 * src/http/authenticate.ts) and by the origin's `/userinfo`.
 */
import { accessTokenHash, type DpopProof, type DpopProofChecker, type DpopRequest } from './dpop.ts'
import { AuthError } from './errors.ts'
import type { AccessTokenClaims } from './types.ts'

/** The request a proof was made for: its method and URI (RFC 9449 `htm`, `htu`). */
export interface DpopTarget {
  method: string
  /** The request URI; several when the resource has several names (the issuer's, the one hit). */
  uris: readonly string[]
}

// A JWS compact serialisation has neither, so either means several headers joined, or garbage.
const SEPARATOR = /[\s,]/

/**
 * The one `DPoP` header's value (RFC 9449 §4.3 step 1: exactly one), or `invalid_dpop_proof`.
 *
 * @example const proof = dpopProofHeader(request.headers)
 */
export function dpopProofHeader(headers: Headers): string {
  const value = headers.get('DPoP')
  if (value === null || value === '')
    throw new AuthError('dpop_proof_invalid', 'a DPoP proof is required', 'DPoP')
  if (SEPARATOR.test(value))
    throw new AuthError('dpop_proof_invalid', 'send exactly one DPoP proof', 'DPoP')
  return value
}

/**
 * The key a token is bound to (`cnf.jkt`), or undefined for an unbound token. A `cnf` we cannot
 * check (another confirmation method, a malformed one) is refused rather than ignored: ignoring it
 * would turn a sender-constrained token back into a bearer token.
 *
 * @example const jkt = boundKey(claims) // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
 */
export function boundKey(claims: AccessTokenClaims): string | undefined {
  const cnf = claims.cnf
  if (cnf === undefined) return undefined
  const jkt = (cnf as { jkt?: unknown } | null)?.jkt
  if (typeof jkt === 'string' && /^[A-Za-z0-9_-]{43}$/.test(jkt)) return jkt
  throw new AuthError(
    'dpop_binding_mismatch',
    'the access token is bound by a confirmation method this service cannot check',
  )
}

/**
 * RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is refused, with the DPoP challenge
 * that says how to present it.
 *
 * @example refuseBoundBearer(claims) // throws for a token with cnf.jkt
 */
export function refuseBoundBearer(claims: AccessTokenClaims): void {
  if (claims.cnf === undefined) return
  if (boundKey(claims) !== undefined)
    throw new AuthError(
      'dpop_binding_mismatch',
      'the access token is DPoP-bound: present it with the DPoP scheme and a proof',
      'DPoP',
    )
}

/**
 * `ath` of a token already verified, kept with its claims: an L1 hit hands back the same frozen
 * claims object for the same token, so the SHA-256 (the largest cost of a proof check after the
 * signature, ~18 µs through WebCrypto on Node) is paid once per cached token. The token text is
 * compared too, so a hash is only ever reused for the very string it was computed from.
 */
const hashes = new WeakMap<object, { token: string; ath: string }>()

async function athOf(token: string, claims: AccessTokenClaims): Promise<string> {
  const known = hashes.get(claims)
  if (known !== undefined && known.token === token) return known.ath
  const ath = await accessTokenHash(token)
  if (Object.isFrozen(claims)) hashes.set(claims, { token, ath })
  return ath
}

/**
 * Checks the proof of a DPoP-scheme request for a verified token's `claims`: the proof itself with
 * `ath` for `token`, and its key against the token's `cnf.jkt`. Throws `AuthError`s with the DPoP
 * challenge. The replay check is the caller's last step (`replay.claim`), so a request refused for
 * any other reason spends nothing.
 *
 * @example const proof = await checkBoundProof(checker, headers, target, token, claims)
 */
export async function checkBoundProof(
  checker: DpopProofChecker,
  headers: Headers,
  target: DpopTarget,
  token: string,
  claims: AccessTokenClaims,
  /** Resource-server nonces (RFC 9449 §9): the proof's `nonce` must be one this accepts. */
  nonce?: DpopRequest['nonce'],
): Promise<DpopProof> {
  const proof = dpopProofHeader(headers)
  const jkt = boundKey(claims)
  // RFC 9449 §7.1: the DPoP scheme promises a bound token; an unbound one proves nothing here.
  if (jkt === undefined)
    throw new AuthError('dpop_binding_mismatch', 'the access token is not DPoP-bound', 'DPoP')
  const checked = await checker.check(proof, {
    method: target.method,
    uris: target.uris,
    accessToken: token,
    accessTokenHash: await athOf(token, claims),
    ...(nonce === undefined ? {} : { nonce }),
  })
  // RFC 9449 §4.3 step 12 / §7.1 ("invalid_token" for a key binding that does not hold).
  if (checked.jkt !== jkt)
    throw new AuthError(
      'dpop_binding_mismatch',
      'the DPoP proof key is not the key the access token is bound to',
      'DPoP',
    )
  return checked
}
