/**
 * Verification config: one zod schema over the environment (Node `process.env`, Worker bindings),
 * parsed once at start. A bad value stops start-up with a message naming the variable and the rule it
 * broke, never the value (values may one day be secrets). Runtime-free: only zod and Web APIs.
 */
import { z } from 'zod'
import { ConfigError } from './errors.ts'

export { ConfigError }

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

/** What the edge does when its revocation filter is older than the staleness limit. */
export type RevocationPolicy = 'open' | 'closed'

/** Edge revocation (src/revocation/): on when the L2 store is configured. */
export interface RevocationConfig {
  syncSeconds: number
  syncTimeoutMs: number
  maxStalenessSeconds: number
  policy: RevocationPolicy
  /** Origin: how often the filter snapshot is rebuilt from the stream. */
  snapshotSeconds: number
}

/** An inline JWKS after validation: public keys only. */
export interface PublicJwks {
  /** JWKs (RFC 7517 §4) with no private members; fully checked when the key set imports them. */
  keys: object[]
}

/** Where verification keys come from: a remote issuer's JWKS endpoint or an inline set. */
export type KeySource = { kind: 'url'; url: string } | { kind: 'inline'; jwks: PublicJwks }

/** The parsed, typed configuration. Every field has a documented default except issuer/audience/keys. */
export interface VerificationConfig {
  issuer: string
  audience: string
  keySource: KeySource
  clockLeewaySeconds: number
  l1MaxEntries: number
  logLevel: LogLevel
  /** Gateway mode is on when set: requests under /api/ are verified and forwarded here. */
  upstreamUrl?: string
  /** Scopes every token must carry to pass the gateway (RFC 6749 §3.3 scope-tokens). */
  upstreamScopes: string[]
  upstreamTimeoutMs: number
  forwardAuthorization: boolean
  /**
   * Browser origins allowed to call the gateway cross-origin (CORS). Unset: no CORS headers at all.
   * The edge holds no client list, so the operator lists the SPA origins here (README, CORS).
   */
  allowedOrigins?: string[]
  jwksRefreshSeconds?: number
  jwksTimeoutMs?: number
  port: number
  host?: string
  shutdownTimeoutSeconds: number
  /** Seconds between SIGTERM and closing the listener, while /readyz already answers 503. */
  drainDelaySeconds: number
  revocation: RevocationConfig
  /** The L2 store (Upstash REST); both or neither. */
  upstash?: { url: string; token: string }
  /** Edge: minting routes are forwarded here (DESIGN.md, "Two runtimes, one app"). */
  originUrl?: string
  originTimeoutMs: number
  /** Consecutive origin failures that open the circuit breaker. */
  originFailureThreshold: number
  /** How long the breaker stays open before one probe request is let through. */
  originOpenSeconds: number
}

// Env values arrive as strings (Node) or as strings, numbers, booleans or objects (Worker [vars]).
// An empty string counts as unset, the usual shell convention (`FOO= npm start`).
const unset = (v: unknown): boolean => v === undefined || v === null || v === ''

const integer = (min: number, max: number, fallback: number) =>
  z.unknown().transform((v, ctx): number => {
    if (unset(v)) return fallback
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? +v : NaN
    if (Number.isInteger(n) && n >= min && n <= max) return n
    ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` })
    return z.NEVER
  })

const optionalInteger = (min: number, max: number) =>
  z.unknown().transform((v, ctx): number | undefined => {
    if (unset(v)) return undefined
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? +v : NaN
    if (Number.isInteger(n) && n >= min && n <= max) return n
    ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` })
    return z.NEVER
  })

const boolean = (fallback: boolean) =>
  z.unknown().transform((v, ctx): boolean => {
    if (unset(v)) return fallback
    if (v === true || v === 'true') return true
    if (v === false || v === 'false') return false
    ctx.addIssue({ code: 'custom', message: 'must be "true" or "false"' })
    return z.NEVER
  })

const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)

/**
 * An absolute http(s) URL without credentials or fragment. `secure` demands https except on
 * loopback: keys fetched over plain HTTP could be swapped by anyone on the path (RFC 8725 §3.10 spirit).
 */
const url = (options: { required: boolean; secure: boolean; allowQuery: boolean }) =>
  z.unknown().transform((v, ctx): string | undefined => {
    if (unset(v)) {
      if (options.required) ctx.addIssue({ code: 'custom', message: 'is required' })
      return undefined
    }
    const parsed = typeof v === 'string' && URL.canParse(v) ? new URL(v) : undefined
    let problem: string | undefined
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      problem = 'must be an absolute http(s) URL'
    } else if (parsed.username || parsed.password || parsed.hash) {
      problem = 'must not contain credentials or a fragment'
    } else if (!options.allowQuery && parsed.search) {
      problem = 'must not contain a query string'
    } else if (options.secure && parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
      problem = 'must use https (http is allowed only for localhost)'
    }
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem })
      return z.NEVER
    }
    return v as string
  })

/** Issuer and audience are compared as exact strings (RFC 9068 §4), so only trim-free text is sane. */
const identifier = z.unknown().transform((v, ctx): string => {
  if (typeof v === 'string' && v.length > 0 && v.length <= 2048 && v === v.trim()) return v
  ctx.addIssue({
    code: 'custom',
    message: unset(v) ? 'is required' : 'must be a non-empty string without surrounding spaces',
  })
  return z.NEVER
})

// RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*NQCHAR.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

const scopeList = z.unknown().transform((v, ctx): string[] => {
  if (unset(v)) return []
  const tokens = typeof v === 'string' ? v.split(' ').filter((s) => s !== '') : []
  if (tokens.length > 0 && tokens.every((t) => SCOPE_TOKEN.test(t))) return tokens
  ctx.addIssue({ code: 'custom', message: 'must be space-separated scope tokens (RFC 6749 §3.3)' })
  return z.NEVER
})

/**
 * Web origins (`https://app.example.com`, `http://127.0.0.1:5173`), separated by spaces or commas.
 * `*` and `null` are refused: the gateway's routes take bearer tokens, so only named origins may read
 * their responses (Fetch standard, CORS protocol).
 */
const originList = z.unknown().transform((v, ctx): string[] | undefined => {
  if (unset(v)) return undefined
  const items = typeof v === 'string' ? v.split(/[\s,]+/).filter((s) => s !== '') : []
  const valid = (item: string): boolean => {
    if (!URL.canParse(item)) return false
    const u = new URL(item)
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === item
  }
  if (items.length > 0 && items.length <= 50 && items.every(valid)) return items
  ctx.addIssue({
    code: 'custom',
    message: 'must be 1-50 origins like https://app.example.com, separated by spaces or commas',
  })
  return z.NEVER
})

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

const inlineJwks = z.unknown().transform((v, ctx): PublicJwks | undefined => {
  if (unset(v)) return undefined
  let value: unknown = v
  if (typeof v === 'string') {
    try {
      value = JSON.parse(v)
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set (RFC 7517 §5)' })
      return z.NEVER
    }
  }
  const keys = (value as { keys?: unknown } | null)?.keys
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    !keys.every((k) => typeof k === 'object' && k !== null && typeof k.kty === 'string')
  ) {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set with at least one key' })
    return z.NEVER
  }
  // The edge holds only public keys (DESIGN.md): a private or symmetric member here is an operator
  // mistake that would spread signing material to every isolate, so refuse to start.
  if (keys.some((k: Record<string, unknown>) => PRIVATE_MEMBERS.some((m) => m in k))) {
    ctx.addIssue({ code: 'custom', message: 'must contain public keys only' })
    return z.NEVER
  }
  return { keys: keys as PublicJwks['keys'] }
})

const logLevel = z.unknown().transform((v, ctx): LogLevel => {
  if (unset(v)) return 'info'
  if (v === 'debug' || v === 'info' || v === 'warn' || v === 'error' || v === 'silent') return v
  ctx.addIssue({ code: 'custom', message: 'must be one of debug, info, warn, error, silent' })
  return z.NEVER
})

const revocationPolicy = z.unknown().transform((v, ctx): RevocationPolicy => {
  if (unset(v)) return 'open'
  if (v === 'open' || v === 'closed') return v
  ctx.addIssue({ code: 'custom', message: 'must be "open" or "closed"' })
  return z.NEVER
})

/** A secret's value is never echoed in an error, only whether it is usable. */
const secretText = z.unknown().transform((v, ctx): string | undefined => {
  if (unset(v)) return undefined
  if (typeof v === 'string' && v.length <= 4096 && !/\s/.test(v)) return v
  ctx.addIssue({ code: 'custom', message: 'must be a token without whitespace' })
  return z.NEVER
})

const host = z.unknown().transform((v, ctx): string | undefined => {
  if (unset(v)) return undefined
  if (typeof v === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(v)) return v
  ctx.addIssue({ code: 'custom', message: 'must be a host name or IP address' })
  return z.NEVER
})

/**
 * The raw shape, exported so a later schema (the origin's `GATEHOUSE_CONFIG`) can spread it into a
 * larger `z.object` and keep the same names, defaults and messages.
 */
export const verificationEnvShape = {
  GATEHOUSE_ISSUER: identifier,
  GATEHOUSE_AUDIENCE: identifier,
  GATEHOUSE_JWKS_URL: url({ required: false, secure: true, allowQuery: true }),
  GATEHOUSE_JWKS: inlineJwks,
  GATEHOUSE_CLOCK_LEEWAY_SECONDS: integer(0, 60, 0),
  GATEHOUSE_L1_MAX_ENTRIES: integer(0, 1_000_000, 10_000),
  GATEHOUSE_LOG_LEVEL: logLevel,
  GATEHOUSE_UPSTREAM_URL: url({ required: false, secure: false, allowQuery: false }),
  GATEHOUSE_UPSTREAM_SCOPES: scopeList,
  GATEHOUSE_UPSTREAM_TIMEOUT_MS: integer(100, 300_000, 30_000),
  GATEHOUSE_FORWARD_AUTHORIZATION: boolean(false),
  GATEHOUSE_ALLOWED_ORIGINS: originList,
  GATEHOUSE_JWKS_REFRESH_SECONDS: optionalInteger(30, 86_400),
  GATEHOUSE_JWKS_TIMEOUT_MS: optionalInteger(100, 60_000),
  GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS: integer(0, 600, 10),
  GATEHOUSE_DRAIN_DELAY_SECONDS: integer(0, 300, 0),
  GATEHOUSE_REVOCATION_SYNC_SECONDS: integer(1, 300, 2),
  GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS: integer(50, 60_000, 1000),
  GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS: integer(5, 86_400, 30),
  GATEHOUSE_REVOCATION_POLICY: revocationPolicy,
  GATEHOUSE_REVOCATION_SNAPSHOT_SECONDS: integer(1, 3600, 5),
  UPSTASH_REDIS_REST_URL: url({ required: false, secure: true, allowQuery: false }),
  UPSTASH_REDIS_REST_TOKEN: secretText,
  GATEHOUSE_ORIGIN_URL: url({ required: false, secure: true, allowQuery: false }),
  GATEHOUSE_ORIGIN_TIMEOUT_MS: integer(100, 60_000, 5000),
  GATEHOUSE_ORIGIN_FAILURE_THRESHOLD: integer(1, 1000, 5),
  GATEHOUSE_ORIGIN_OPEN_SECONDS: integer(1, 3600, 30),
  PORT: integer(0, 65_535, 8788),
  HOST: host,
}

/**
 * Reads only `GATEHOUSE_LOG_LEVEL`, for code that must log before the whole config can be parsed (the
 * origin builds its key set, which the verification config then uses).
 */
export function parseLogLevel(env: Record<string, unknown>): LogLevel {
  const result = logLevel.safeParse(env.GATEHOUSE_LOG_LEVEL)
  if (result.success) return result.data
  throw new ConfigError([
    { field: 'GATEHOUSE_LOG_LEVEL', message: result.error.issues[0]?.message ?? 'invalid' },
  ])
}

/** Names of the variables the schema reads; the Worker entry fingerprints only these. */
export const VERIFICATION_ENV_NAMES = Object.keys(verificationEnvShape)

const verificationEnvSchema = z.object(verificationEnvShape).superRefine((env, ctx) => {
  const sources =
    Number(env.GATEHOUSE_JWKS_URL !== undefined) + Number(env.GATEHOUSE_JWKS !== undefined)
  if (sources !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: [sources === 0 ? 'GATEHOUSE_JWKS_URL' : 'GATEHOUSE_JWKS'],
      message:
        sources === 0
          ? 'one of GATEHOUSE_JWKS_URL or GATEHOUSE_JWKS is required'
          : 'set only one of GATEHOUSE_JWKS_URL and GATEHOUSE_JWKS',
    })
  }
  if ((env.UPSTASH_REDIS_REST_URL === undefined) !== (env.UPSTASH_REDIS_REST_TOKEN === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [
        env.UPSTASH_REDIS_REST_URL === undefined
          ? 'UPSTASH_REDIS_REST_URL'
          : 'UPSTASH_REDIS_REST_TOKEN',
      ],
      message: 'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together',
    })
  }
  // The bound a request may be decided on is sync + timeout; staleness below it would flap.
  const bound =
    env.GATEHOUSE_REVOCATION_SYNC_SECONDS + env.GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS / 1000
  if (env.GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS < bound) {
    ctx.addIssue({
      code: 'custom',
      path: ['GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS'],
      message: 'must be at least GATEHOUSE_REVOCATION_SYNC_SECONDS + the sync timeout',
    })
  }
})

/**
 * Parses the environment into a `VerificationConfig`, or throws a `ConfigError` whose message has one
 * line per bad variable (`GATEHOUSE_CLOCK_LEEWAY_SECONDS: must be an integer between 0 and 60`).
 * Unknown variables are ignored: the environment holds much else.
 *
 * @example
 * const config = parseVerificationConfig({ GATEHOUSE_ISSUER: 'https://id.example', ... })
 */
export function parseVerificationConfig(env: Record<string, unknown>): VerificationConfig {
  // Every name present (undefined when unset): zod treats an absent key as an error before our
  // transforms can apply their defaults.
  const input = Object.fromEntries(VERIFICATION_ENV_NAMES.map((name) => [name, env[name]]))
  const result = verificationEnvSchema.safeParse(input)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => ({
        field: String(i.path[0] ?? 'config'),
        message: i.message,
      })),
    )
  }
  const e = result.data
  const config: VerificationConfig = {
    issuer: e.GATEHOUSE_ISSUER,
    audience: e.GATEHOUSE_AUDIENCE,
    keySource: e.GATEHOUSE_JWKS
      ? { kind: 'inline', jwks: e.GATEHOUSE_JWKS }
      : { kind: 'url', url: e.GATEHOUSE_JWKS_URL as string },
    clockLeewaySeconds: e.GATEHOUSE_CLOCK_LEEWAY_SECONDS,
    l1MaxEntries: e.GATEHOUSE_L1_MAX_ENTRIES,
    logLevel: e.GATEHOUSE_LOG_LEVEL,
    upstreamScopes: e.GATEHOUSE_UPSTREAM_SCOPES,
    upstreamTimeoutMs: e.GATEHOUSE_UPSTREAM_TIMEOUT_MS,
    forwardAuthorization: e.GATEHOUSE_FORWARD_AUTHORIZATION,
    port: e.PORT,
    shutdownTimeoutSeconds: e.GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS,
    drainDelaySeconds: e.GATEHOUSE_DRAIN_DELAY_SECONDS,
    revocation: {
      syncSeconds: e.GATEHOUSE_REVOCATION_SYNC_SECONDS,
      syncTimeoutMs: e.GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS,
      maxStalenessSeconds: e.GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS,
      policy: e.GATEHOUSE_REVOCATION_POLICY,
      snapshotSeconds: e.GATEHOUSE_REVOCATION_SNAPSHOT_SECONDS,
    },
    originTimeoutMs: e.GATEHOUSE_ORIGIN_TIMEOUT_MS,
    originFailureThreshold: e.GATEHOUSE_ORIGIN_FAILURE_THRESHOLD,
    originOpenSeconds: e.GATEHOUSE_ORIGIN_OPEN_SECONDS,
  }
  if (e.GATEHOUSE_ORIGIN_URL !== undefined) config.originUrl = e.GATEHOUSE_ORIGIN_URL
  if (e.UPSTASH_REDIS_REST_URL !== undefined && e.UPSTASH_REDIS_REST_TOKEN !== undefined)
    config.upstash = { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
  if (e.GATEHOUSE_UPSTREAM_URL !== undefined) config.upstreamUrl = e.GATEHOUSE_UPSTREAM_URL
  if (e.GATEHOUSE_ALLOWED_ORIGINS !== undefined) config.allowedOrigins = e.GATEHOUSE_ALLOWED_ORIGINS
  if (e.GATEHOUSE_JWKS_REFRESH_SECONDS !== undefined)
    config.jwksRefreshSeconds = e.GATEHOUSE_JWKS_REFRESH_SECONDS
  if (e.GATEHOUSE_JWKS_TIMEOUT_MS !== undefined) config.jwksTimeoutMs = e.GATEHOUSE_JWKS_TIMEOUT_MS
  if (e.HOST !== undefined) config.host = e.HOST
  return config
}
