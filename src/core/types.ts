/** Shared types of the verification core. Runtime-free. */

export type SigningAlg = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256'

/** The protected header of a compact JWS, after strict parsing. */
export interface JwsHeader {
  alg: string
  kid?: string
  typ?: string
  [name: string]: unknown
}

/** Access token claims (RFC 9068 §2.2) plus ours (`sid`). Validated before they reach a caller. */
export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string | string[]
  exp: number
  iat?: number
  nbf?: number
  jti?: string
  client_id?: string
  scope?: string
  sid?: string
  [name: string]: unknown
}

/** What a successful verification returns. */
export interface VerifiedToken {
  header: JwsHeader
  claims: AccessTokenClaims
  /** The tenant whose issuer and keys verified it, on a multi-tenant edge (src/tenancy/). */
  tenant?: string
}

/** Milliseconds since the epoch; injectable so tests can freeze time. */
export type Clock = () => number
