/**
 * DPoP proofs for tests (RFC 9449 §4.2), honest and otherwise: a client key pair, proofs signed with
 * jose the way a real client makes them, and the malformed ones an attacker would try (`alg: none`,
 * HMAC, a private key in the header, a signature by another key). Runs on Node and in workerd.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'

export type ProofAlg = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256'

export interface ProofKey {
  alg: ProofAlg
  privateKey: CryptoKey
  /** The public JWK as it goes in the proof header. */
  jwk: JWK
  /** Its private JWK, for the "private key in the header" attack. */
  privateJwk: JWK
  /** RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to this key. */
  jkt: string
}

/** A fresh client key pair (extractable here only so a test can misuse the private half). */
export async function generateProofKey(alg: ProofAlg = 'ES256'): Promise<ProofKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return {
    alg,
    privateKey,
    jwk,
    privateJwk: await exportJWK(privateKey),
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
  }
}

export interface ProofClaims {
  htm: string
  htu: string
  /** The access token the proof goes with (sets `ath`). */
  accessToken?: string
  /** `ath` as given, instead of the hash of `accessToken`. */
  ath?: string
  nonce?: string
  /** Seconds since the epoch. Default: now. */
  iat?: number
  jti?: string
}

export interface ProofOptions {
  /** Header members to override or add (`typ`, `jwk`, ...); `undefined` removes one. */
  header?: Record<string, unknown>
  /** Claims to remove. */
  omit?: string[]
  /** Sign with this key, while the header shows `key`'s public JWK. */
  signWith?: CryptoKey
}

const b64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')

/** base64url(SHA-256(token)): the `ath` of a proof for `token`. */
export async function athOf(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return b64url(new Uint8Array(digest))
}

async function payloadOf(claims: ProofClaims, omit: string[]): Promise<Record<string, unknown>> {
  const payload: Record<string, unknown> = {
    jti: claims.jti ?? crypto.randomUUID(),
    htm: claims.htm,
    htu: claims.htu,
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
  }
  if (claims.ath !== undefined) payload.ath = claims.ath
  else if (claims.accessToken !== undefined) payload.ath = await athOf(claims.accessToken)
  if (claims.nonce !== undefined) payload.nonce = claims.nonce
  for (const name of omit) delete payload[name]
  return payload
}

/**
 * An RFC 9449 proof signed by `key` (or, with `signWith`, by another key under `key`'s header).
 *
 * @example const proof = await makeProof(key, { htm: 'GET', htu: 'https://api.test/x', accessToken })
 */
export async function makeProof(
  key: ProofKey,
  claims: ProofClaims,
  options: ProofOptions = {},
): Promise<string> {
  const header: Record<string, unknown> = { alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk }
  for (const [name, value] of Object.entries(options.header ?? {})) {
    if (value === undefined) delete header[name]
    else header[name] = value
  }
  return new SignJWT(await payloadOf(claims, options.omit ?? []))
    .setProtectedHeader(header as { alg: string })
    .sign(options.signWith ?? key.privateKey)
}

const segment = (value: object): string => b64url(new TextEncoder().encode(JSON.stringify(value)))

/** An unsecured proof (`alg: none`, empty signature): RFC 9449 §4.3 step 5 refuses it. */
export async function unsecuredProof(key: ProofKey, claims: ProofClaims): Promise<string> {
  const header = { alg: 'none', typ: 'dpop+jwt', jwk: key.jwk }
  return `${segment(header)}.${segment(await payloadOf(claims, []))}.`
}

/** A proof MACed with HS256 under a secret `jwk`: symmetric algorithms are refused (§4.3 step 5). */
export async function hmacProof(claims: ProofClaims): Promise<string> {
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const jwk = { kty: 'oct', k: b64url(secret) }
  return new SignJWT(await payloadOf(claims, []))
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk } as { alg: string })
    .sign(secret)
}
