/**
 * The value rules of the configuration variables (config-variables.ts): zod schemas over `unknown`,
 * because env values arrive as strings (Node) or as strings, numbers, booleans or objects (Worker
 * [vars]). An empty string counts as unset, the usual shell convention (`FOO= npm start`). Messages
 * state the rule, never the value (values may be secrets). Runtime-free: zod and Web APIs only.
 */
import { z } from 'zod'
import { describeJsonError, parseJsonText } from './json-text.ts'
import { HTTPS_EXCEPT_LOOPBACK, isHttpsOrLoopback, parseHttpUrl } from './urls.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

/** What the edge does when its revocation filter is older than the staleness limit. */
export type RevocationPolicy = 'open' | 'closed'

/** An inline JWKS after validation: public keys only. */
export interface PublicJwks {
  /** JWKs (RFC 7517 §4) with no private members; fully checked when the key set imports them. */
  keys: object[]
}

export const isUnset = (v: unknown): boolean => v === undefined || v === null || v === ''

/** A rule: unset gives `fallback`, anything else must pass `check` (which returns an error message). */
function rule<T, F>(
  fallback: F,
  check: (v: unknown) => { value: T } | { problem: string },
): z.ZodType<T | F, unknown> {
  return z.unknown().transform((v, ctx): T | F => {
    if (isUnset(v)) return fallback
    const result = check(v)
    if ('value' in result) return result.value
    ctx.addIssue({ code: 'custom', message: result.problem })
    return z.NEVER
  })
}

const toInteger = (v: unknown): number =>
  typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? +v : NaN

export const integer = <F extends number | undefined>(min: number, max: number, fallback: F) =>
  rule(fallback, (v) => {
    const n = toInteger(v)
    return Number.isInteger(n) && n >= min && n <= max
      ? { value: n }
      : { problem: `must be an integer between ${min} and ${max}` }
  })

export const boolean = (fallback: boolean) =>
  rule(fallback, (v) =>
    v === true || v === 'true'
      ? { value: true }
      : v === false || v === 'false'
        ? { value: false }
        : { problem: 'must be "true" or "false"' },
  )

export const oneOf = <T extends string, F extends T | undefined>(
  values: readonly T[],
  fallback: F,
) =>
  rule(fallback, (v) =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? { value: v as T }
      : { problem: `must be one of ${values.join(', ')}` },
  )

/**
 * An absolute http(s) URL without credentials or fragment. `secure` demands https except on loopback
 * (core/urls.ts): keys or tokens sent over plain HTTP could be read or swapped on the path.
 */
export const url = (options: { secure: boolean; allowQuery: boolean }) =>
  rule(undefined, (v) => {
    const parsed = parseHttpUrl(v)
    if (!parsed) return { problem: 'must be an absolute http(s) URL' }
    if (parsed.username || parsed.password || parsed.hash)
      return { problem: 'must not contain credentials or a fragment' }
    if (!options.allowQuery && parsed.search) return { problem: 'must not contain a query string' }
    if (options.secure && !isHttpsOrLoopback(parsed)) return { problem: HTTPS_EXCEPT_LOOPBACK }
    return { value: v as string }
  })

/** Issuer and audience are compared as exact strings (RFC 9068 §4), so only trim-free text is sane. */
const identifierCheck = (v: unknown) =>
  typeof v === 'string' && v.length <= 2048 && v === v.trim()
    ? { value: v }
    : { problem: 'must be a non-empty string without surrounding spaces' }

/** Required or not is decided with the other variables (core/config.ts). */
export const optionalIdentifier = rule(undefined, identifierCheck)

// RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*NQCHAR.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

export const scopeList = rule([] as string[], (v) => {
  const tokens = typeof v === 'string' ? v.split(' ').filter((s) => s !== '') : []
  return tokens.length > 0 && tokens.every((t) => SCOPE_TOKEN.test(t))
    ? { value: tokens }
    : { problem: 'must be space-separated scope tokens (RFC 6749 §3.3)' }
})

/**
 * Web origins (`https://app.example.com`, `http://127.0.0.1:5173`), separated by spaces or commas.
 * `*` and `null` are refused: the gateway's routes take bearer tokens, so only named origins may read
 * their responses (Fetch standard, CORS protocol).
 */
export const originList = rule(undefined, (v) => {
  const items = typeof v === 'string' ? v.split(/[\s,]+/).filter((s) => s !== '') : []
  const valid = (item: string): boolean => parseHttpUrl(item)?.origin === item
  return items.length > 0 && items.length <= 50 && items.every(valid)
    ? { value: items }
    : {
        problem: 'must be 1-50 origins like https://app.example.com, separated by spaces or commas',
      }
})

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

/** An inline JWKS as JSON text (Node, a Worker secret) or an object (Worker [vars] table). */
export const inlineJwks = rule(undefined, (v): { value: PublicJwks } | { problem: string } => {
  let value: unknown = v
  if (typeof v === 'string') {
    const parsed = parseJsonText(v)
    if (!parsed.ok) return { problem: `is not valid JSON (${describeJsonError(parsed)})` }
    value = parsed.value
  }
  const keys = (value as { keys?: unknown } | null)?.keys
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    !keys.every((k) => typeof k === 'object' && k !== null && typeof k.kty === 'string')
  )
    return { problem: 'must be a JSON Web Key Set (RFC 7517 §5) with at least one key' }
  // The edge holds only public keys (DESIGN.md): a private or symmetric member here is an operator
  // mistake that would spread signing material to every isolate, so refuse to start.
  if (keys.some((k: Record<string, unknown>) => PRIVATE_MEMBERS.some((m) => m in k)))
    return { problem: 'must contain public keys only' }
  return { value: { keys: keys as PublicJwks['keys'] } }
})

/** A secret's value is never echoed in an error, only whether it is usable. */
export const secretText = rule(undefined, (v) =>
  typeof v === 'string' && v.length <= 4096 && !/\s/.test(v)
    ? { value: v }
    : { problem: 'must be a token without whitespace' },
)

/** A secret of at least `min` characters (a key, not a password): no whitespace, at most 4096. */
export const keyText = (min: number) =>
  rule(undefined, (v) =>
    typeof v === 'string' && v.length >= min && v.length <= 4096 && !/\s/.test(v)
      ? { value: v }
      : { problem: `must be a token of at least ${min} characters without whitespace` },
  )

export const host = rule(undefined, (v) =>
  typeof v === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(v)
    ? { value: v }
    : { problem: 'must be a host name or IP address' },
)

/** `sha256:<base64url>` of a secret (the form `gatehouse tenants admin-secret` prints). */
export const sha256Digest = rule(undefined, (v) =>
  typeof v === 'string' && /^sha256:[A-Za-z0-9_-]{43}$/.test(v)
    ? { value: v }
    : { problem: 'must be sha256:<43 base64url characters>' },
)

export const filePath = rule(undefined, (v) =>
  typeof v === 'string' && v.length <= 4096 && !v.includes('\0')
    ? { value: v }
    : { problem: 'must be a file path' },
)

export const text = (max: number) =>
  rule(undefined, (v) =>
    typeof v === 'string' && v.trim() !== '' && v.length <= max
      ? { value: v.trim() }
      : { problem: `must be text of at most ${max} characters` },
  )

/**
 * OTLP headers, `k=v,k2=v2` with URL-encoded values (OpenTelemetry exporter specification); names
 * must be HTTP tokens.
 */
export const otlpHeaders = rule({} as Record<string, string>, (v) => {
  if (typeof v !== 'string') return { problem: 'must be k=v pairs separated by commas' }
  const headers: Record<string, string> = {}
  for (const pair of v.split(',')) {
    if (pair.trim() === '') continue
    const eq = pair.indexOf('=')
    const key = eq > 0 ? pair.slice(0, eq).trim() : ''
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key))
      return { problem: 'must be k=v pairs separated by commas, names being HTTP tokens' }
    try {
      headers[key] = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      return { problem: 'values must be URL-encoded' }
    }
  }
  return { value: headers }
})
