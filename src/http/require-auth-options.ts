/**
 * `requireAuth`'s options: their type and the check run once, when the middleware is created.
 *
 * A hand-written check rather than a zod schema: the middleware is what Worker authors bundle, and
 * zod made that bundle 489 KB minified against ~43 KB (DPoP included) without it (test/package
 * records the size).
 * Every problem is reported at once; an unknown option is an error with a "did you mean" hint, so
 * `requireAuth({ audiance })` says so instead of reporting a missing `audience`.
 */
import { suggestName, unknownNameMessage } from '../core/did-you-mean.ts'
import { HTTPS_EXCEPT_LOOPBACK, isHttpsOrLoopback, parseHttpUrl } from '../core/urls.ts'
import type { DpopGuard } from './dpop-guard.ts'
import { SCOPE_TOKEN } from './scopes.ts'
import type { TokenVerifier } from './types.ts'

interface CommonOptions {
  /** Every one of these must be in the token's `scope` claim, else 403 `insufficient_scope`. */
  scopes?: string[]
  /** `realm` of the `WWW-Authenticate` challenge. Default "gatehouse". */
  realm?: string
  /**
   * Checks DPoP proofs (RFC 9449 §7), from `createDpopGuard`. Default: one of its own, replay caught
   * in this isolate's memory only; pass one with a `store` to catch a replay anywhere.
   */
  dpop?: DpopGuard
}

/** Verify with a verifier you built (`buildVerifier`, or your own). */
export interface RequireAuthVerifierOptions extends CommonOptions {
  /** A ready verifier (from `buildVerifier` or the core); it already checks iss/aud. */
  verifier: TokenVerifier
  /** An extra audience the token must carry, on top of what the verifier checks. */
  audience?: string
}

/** Verify against the issuer's published key set, fetched (and cached) on first use. */
export interface RequireAuthJwksUrlOptions extends CommonOptions {
  /** The `iss` the token must carry, exactly. */
  issuer: string
  /** An `aud` the token must carry: the identifier of your API. */
  audience: string
  /** The issuer's JWKS endpoint (https, or http on loopback). */
  jwksUrl: string
  /** Seconds of clock skew tolerated on exp/nbf/iat, 0–60. Default 0. */
  clockLeewaySeconds?: number
  /** Used to fetch the key set. Default `globalThis.fetch`. */
  fetch?: typeof fetch
}

/** Verify against an inline key set of public keys. */
export interface RequireAuthJwksOptions extends CommonOptions {
  issuer: string
  audience: string
  /** An inline JSON Web Key Set of public keys. */
  jwks: { keys: object[] }
  /** Seconds of clock skew tolerated on exp/nbf/iat, 0–60. Default 0. */
  clockLeewaySeconds?: number
}

export type RequireAuthOptions =
  RequireAuthVerifierOptions | RequireAuthJwksUrlOptions | RequireAuthJwksOptions

type KeySourceName = 'verifier' | 'jwksUrl' | 'jwks'
const KEY_SOURCES: readonly KeySourceName[] = ['verifier', 'jwksUrl', 'jwks']
const COMMON = ['scopes', 'realm', 'dpop']
/** The options each key source takes, required ones first. */
const ALLOWED: Record<KeySourceName, { required: string[]; optional: string[] }> = {
  verifier: { required: ['verifier'], optional: [...COMMON, 'audience'] },
  jwksUrl: {
    required: ['issuer', 'audience', 'jwksUrl'],
    optional: [...COMMON, 'clockLeewaySeconds', 'fetch'],
  },
  jwks: { required: ['issuer', 'audience', 'jwks'], optional: [...COMMON, 'clockLeewaySeconds'] },
}
const ALL_NAMES = [
  ...new Set(Object.values(ALLOWED).flatMap((a) => [...a.required, ...a.optional])),
]

// RFC 7235 §2.2 quoted-string content we emit unescaped: printable ASCII without `"` and `\`.
const REALM = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,100}$/
const isText = (v: unknown): boolean => typeof v === 'string' && v.length > 0
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Each option's rule: a message when the value breaks it, else undefined. */
const RULES: Record<string, (value: unknown) => string | undefined> = {
  scopes: (v) => {
    if (!Array.isArray(v)) return 'must be an array of RFC 6749 §3.3 scope-tokens'
    const bad = v.findIndex((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))
    return bad === -1 ? undefined : `[${bad}] is not an RFC 6749 §3.3 scope-token`
  },
  realm: (v) =>
    typeof v === 'string' && REALM.test(v)
      ? undefined
      : 'must be 1–100 printable ASCII characters without " or \\',
  dpop: (v) =>
    isObject(v) &&
    isObject(v.checker) &&
    typeof v.checker.check === 'function' &&
    isObject(v.replay) &&
    typeof v.replay.claim === 'function'
      ? undefined
      : 'must come from createDpopGuard',
  verifier: (v) =>
    isObject(v) && typeof v.verify === 'function' ? undefined : 'must have a verify(token) method',
  issuer: (v) => (isText(v) ? undefined : 'must be a non-empty string'),
  audience: (v) => (isText(v) ? undefined : 'must be a non-empty string'),
  jwksUrl: (v) => {
    // RFC 8414 §2: jwks_uri is https; plain http only for local development.
    const url = parseHttpUrl(v)
    if (url === undefined) return 'must be an absolute http(s) URL'
    return isHttpsOrLoopback(url) ? undefined : HTTPS_EXCEPT_LOOPBACK
  },
  jwks: (v) =>
    isObject(v) &&
    Array.isArray(v.keys) &&
    v.keys.length > 0 &&
    v.keys.every((k) => isObject(k) && typeof k.kty === 'string')
      ? undefined
      : 'must be { keys: [...] } with at least one JWK',
  clockLeewaySeconds: (v) =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 60
      ? undefined
      : 'must be an integer from 0 to 60',
  fetch: (v) => (typeof v === 'function' ? undefined : 'must be a function'),
}

/** Every problem with `options`, each naming the option; empty when they are usable. */
function problemsOf(options: unknown): string[] {
  if (!isObject(options)) return ['options must be an object']
  const given = Object.keys(options).filter((k) => options[k] !== undefined)
  const unknown = given.filter((k) => !ALL_NAMES.includes(k))
  const problems = unknown.map((k) => `${k}: ${unknownNameMessage(k, ALL_NAMES, 'option')}`)
  const sources = KEY_SOURCES.filter((k) => given.includes(k))
  if (sources.length !== 1) {
    problems.push(`give exactly one of verifier, jwksUrl or jwks (got ${sources.length})`)
    return problems
  }
  const source = sources[0] as KeySourceName
  const { required, optional } = ALLOWED[source]
  // A misspelled required option is reported once, as the unknown name with its hint.
  const meant = unknown.map((k) => suggestName(k, ALL_NAMES))
  for (const name of required.filter((k) => !given.includes(k) && !meant.includes(k)))
    problems.push(`${name}: is required with ${source}`)
  for (const name of given.filter((k) => ALL_NAMES.includes(k))) {
    if (!required.includes(name) && !optional.includes(name)) {
      problems.push(`${name}: is not used with ${source}`)
      continue
    }
    const problem = RULES[name]?.(options[name])
    if (problem !== undefined) problems.push(`${name}: ${problem}`)
  }
  return problems
}

/**
 * Throws a `TypeError` naming every bad option, or returns the key source the options use.
 *
 * @example
 * checkRequireAuthOptions({ issuer, audiance: 'x', jwksUrl })
 * // TypeError: requireAuth: audiance: is not a known option (did you mean "audience"?)
 */
export function checkRequireAuthOptions(options: RequireAuthOptions): KeySourceName {
  const problems = problemsOf(options)
  if (problems.length > 0) throw new TypeError(`requireAuth: ${problems.join('; ')}`)
  return KEY_SOURCES.find((k) => (options as unknown as Record<string, unknown>)[k] !== undefined)!
}
