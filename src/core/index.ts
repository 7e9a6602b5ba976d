/** The verification core's public API (runtime-free: Web APIs, jose and zod only). */
export { decodeBase64Url, decodeBase64UrlRange, encodeBase64Url } from './base64url.ts'
export { checkAccessTokenClaims, type ClaimsPolicy } from './claims.ts'
export { AuthError, isAuthError, type AuthErrorCode, type BearerErrorCode } from './errors.ts'
export { hasDuplicateKeys, parseJsonObject } from './json.ts'
export {
  createRemoteKeySet,
  createStaticKeySet,
  type KeySet,
  type RemoteKeySetOptions,
  type StaticKeySetOptions,
  type VerificationKey,
} from './jwks.ts'
export {
  DEFAULT_MAX_TOKEN_LENGTH,
  parseCompactJws,
  parseCompactJwsRaw,
  type ParsedJws,
  type RawJws,
} from './jws.ts'
export { importJwsKeys, JWS_ALGS, verifyCompactJws } from './jws-verify.ts'
export { selectKey } from './key-selection.ts'
export {
  importJwk,
  KeyImportError,
  SIGNING_ALGS,
  type ImportJwkOptions,
  type JwsAlg,
  type JwsKey,
} from './keys.ts'
export { expectedSignatureLength, verifyWithWebCrypto } from './signature.ts'
export {
  createAccessTokenVerifier,
  MAX_CLOCK_LEEWAY_SECONDS,
  webCryptoSignatureCheck,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type SignatureCheck,
} from './verify.ts'
export type { AccessTokenClaims, Clock, JwsHeader, SigningAlg, VerifiedToken } from './types.ts'
