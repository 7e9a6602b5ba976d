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

/**
 * The host's WebCrypto `CryptoKey`, read off `crypto.subtle.generateKey` (the DOM and WebWorker libs,
 * workers-types, or @types/node's webcrypto), else a structural stand-in. So the package's
 * declarations also type-check for a Node-only consumer (`lib: ["es2024"]`, `types: ["node"]`),
 * which has no global `CryptoKey` type. jose types its keys the same way.
 */
export type WebCryptoKey = typeof globalThis extends {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches every overload
  crypto: { subtle: { generateKey(...args: any[]): Promise<infer R> } }
}
  ? Extract<R, { type: string }>
  : {
      readonly algorithm: { name: string }
      readonly extractable: boolean
      readonly type: string
      readonly usages: string[]
    }

/** The public members of a JWK (RFC 7517 §4, RFC 7518 §6) we keep; assignable to WebCrypto's JsonWebKey. */
export interface PublicJwk {
  kty?: string
  crv?: string
  x?: string
  y?: string
  n?: string
  e?: string
  /** Only for HMAC keys, which the JWS layer alone handles (never access tokens). */
  k?: string
  alg?: string
  kid?: string
  use?: string
  key_ops?: string[]
  ext?: boolean
}
