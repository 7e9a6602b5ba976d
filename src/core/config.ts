/**
 * The configuration schema of both entries, parsed once at start from the variables listed in
 * config-variables.ts: the Worker's bindings (`runtime: 'edge'`) or the Node process's environment
 * (`runtime: 'node'`, with the origin's JSON config read by src/entry/node-config.ts). Every problem
 * is collected and thrown at once as one `ConfigError`, each naming the variable and the rule it
 * broke, never the value (values may be secrets). Unknown `GATEHOUSE_*` names are errors with a
 * "did you mean" hint. Runtime-free: zod and Web APIs only.
 *
 * Precedence (docs/configuration.md): a Worker secret or `--var` replaces the wrangler.toml value of
 * the same name (Cloudflare merges them before we see them); across names, `GATEHOUSE_JWKS` (inline)
 * wins over `GATEHOUSE_JWKS_URL`, so an inline key set set as a secret works beside the toml's URL.
 */
import type { z } from 'zod'
import type { PolicyRouteTable } from './policy-routes.ts'
import type { LogLevel, PublicJwks, RevocationPolicy } from './config-rules.ts'
import {
  OWN_PREFIX,
  VARIABLE_NAMES,
  VARIABLES,
  variablesOf,
  type Runtime,
  type VariableName,
} from './config-variables.ts'
import { unknownNameMessage } from './did-you-mean.ts'
import { ConfigError, type ConfigIssue } from './errors.ts'

export { ConfigError, type ConfigIssue }
export type { LogLevel, PublicJwks, RevocationPolicy, Runtime }

/** Edge revocation (src/revocation/): on when the L2 store is configured. */
export interface RevocationConfig {
  syncSeconds: number
  syncTimeoutMs: number
  maxStalenessSeconds: number
  policy: RevocationPolicy
  /** Origin: how often the filter snapshot is rebuilt from the stream. */
  snapshotSeconds: number
}

/** DPoP at the edge and the origin (docs/dpop.md). */
export interface DpopConfig {
  /** Oldest proof `iat` accepted, seconds. */
  maxAgeSeconds: number
  /** While L2 is unreachable: check replay in L1 only (`open`) or refuse (`closed`). */
  replayPolicy: 'open' | 'closed'
  /** Set: proofs at /verify and the gateway must carry our nonce (RFC 9449 §9); the HMAC key. */
  nonceSecret?: string
}

/** Where verification keys come from: a remote issuer's JWKS endpoint or an inline set. */
export type KeySource = { kind: 'url'; url: string } | { kind: 'inline'; jwks: PublicJwks }

/** OpenTelemetry export (OTLP/HTTP JSON); absent when tracing is off. */
export interface TracingConfig {
  /** The full traces URL (`…/v1/traces`). */
  url: string
  headers: Record<string, string>
  /** Default `gatehouse-<role>`. */
  serviceName?: string
}

/** The parsed, typed configuration. Every field has a documented default except issuer/audience/keys. */
export interface VerificationConfig {
  issuer: string
  /** Absent only on a minting origin that verifies nothing itself (no `/verify`, no gateway). */
  audience?: string
  /** Absent only on a minting origin: it verifies with the keys it publishes. */
  keySource?: KeySource
  clockLeewaySeconds: number
  l1MaxEntries: number
  logLevel: LogLevel
  /** Gateway mode is on when set: requests under /api/ are verified and forwarded here. */
  upstreamUrl?: string
  /** Scopes every token must carry to pass the gateway (RFC 6749 §3.3 scope-tokens). */
  upstreamScopes: string[]
  upstreamTimeoutMs: number
  /** Gateway request bodies above this are refused with 413 (they are read whole before forwarding). */
  upstreamMaxBodyBytes: number
  forwardAuthorization: boolean
  /**
   * Browser origins allowed to call the gateway cross-origin (CORS). Unset: no CORS headers at all.
   * The edge holds no client list, so the operator lists the SPA origins here (docs, CORS).
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
  dpop: DpopConfig
  /** The L2 store (Upstash REST); both or neither. */
  upstash?: { url: string; token: string }
  /**
   * Gateway routes decided by Cedar policies (docs/policy.md), and how often each isolate re-reads
   * the policy set's version in L2. Needs the gateway and L2.
   */
  policy?: { routes: PolicyRouteTable; refreshSeconds: number }
  /** Edge: minting routes are forwarded here (DESIGN.md, "Two runtimes, one app"). */
  originUrl?: string
  originTimeoutMs: number
  /** Consecutive origin failures that open the circuit breaker. */
  originFailureThreshold: number
  /** How long the breaker stays open before one probe request is let through. */
  originOpenSeconds: number
  tracing?: TracingConfig
  /** Multi-tenancy (src/tenancy/, docs/tenancy.md): the registry's tenants beside the default one. */
  tenancy: { enabled: boolean; maxTenants: number }
  /** Node: the admin credential's `sha256:` digest; without it there is no tenant admin API. */
  adminSecretHash?: string
}

export interface ParseOptions {
  /**
   * Only this runtime's variables are accepted (a Node-only one on the Worker is an error, and the
   * other way round). Default: both, for library use and tests.
   */
  runtime?: Runtime
  /**
   * A minting origin (Node with `GATEHOUSE_CONFIG`): the issuer may come from the config file, the
   * audience may be absent (no `/verify` then) and the key source defaults to its own keys.
   */
  origin?: boolean
}

type Values = { [K in VariableName]: z.output<(typeof VARIABLES)[K]['rule']> }

const RUNTIME_NAMES: Record<Runtime, string> = { edge: 'the edge Worker', node: 'the Node origin' }

/** Kubernetes service links inject `<SERVICE>_PORT=tcp://…`-style names for every Service. */
const SERVICE_LINK = /_(?:SERVICE_HOST|SERVICE_PORT|PORT)(?:_|$)/

/** Unknown `GATEHOUSE_*` names, and known names the runtime does not read. */
function nameIssues(env: Record<string, unknown>, runtime: Runtime | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const known = runtime ? variablesOf(runtime) : VARIABLE_NAMES
  for (const name of Object.keys(env)) {
    if (name in VARIABLES) {
      const spec = VARIABLES[name as VariableName]
      if (runtime && !spec.runtimes.includes(runtime) && !isUnsetValue(env[name]))
        issues.push({
          field: name,
          message: `is read only by ${RUNTIME_NAMES[spec.runtimes[0] as Runtime]}, not by ${RUNTIME_NAMES[runtime]}`,
        })
      continue
    }
    if (!name.startsWith(OWN_PREFIX)) continue
    let message = unknownNameMessage(name, known, 'variable')
    if (!message.includes('did you mean') && SERVICE_LINK.test(name))
      message += ' (a Kubernetes service link? set enableServiceLinks: false)'
    issues.push({ field: name, message })
  }
  return issues
}

const isUnsetValue = (v: unknown): boolean => v === undefined || v === null || v === ''

/**
 * Applies every variable's rule. Returns the values (defaults applied) and the problems, all of them.
 *
 * @example const { values, issues } = readVariables(process.env, 'node')
 */
export function readVariables(
  env: Record<string, unknown>,
  runtime?: Runtime,
): { values: Partial<Values>; issues: ConfigIssue[] } {
  const issues = nameIssues(env, runtime)
  const values: Record<string, unknown> = {}
  for (const name of runtime ? variablesOf(runtime) : VARIABLE_NAMES) {
    const result = VARIABLES[name].rule.safeParse(env[name])
    if (result.success) values[name] = result.data
    else for (const i of result.error.issues) issues.push({ field: name, message: i.message })
  }
  return { values: values as Partial<Values>, issues }
}

/** The verification config from checked values, plus the problems found combining them. */
function assemble(
  v: Values,
  options: ParseOptions,
  present: (name: VariableName) => boolean,
): { config: VerificationConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = []
  const issue = (field: string, message: string) => issues.push({ field, message })
  if (!present('GATEHOUSE_ISSUER') && !options.origin) issue('GATEHOUSE_ISSUER', 'is required')
  if (!present('GATEHOUSE_AUDIENCE')) {
    if (present('GATEHOUSE_UPSTREAM_URL'))
      issue('GATEHOUSE_AUDIENCE', 'is required with GATEHOUSE_UPSTREAM_URL (the gateway verifies)')
    else if (!options.origin) issue('GATEHOUSE_AUDIENCE', 'is required (tokens are verified here)')
  }
  let keySource: KeySource | undefined
  if (v.GATEHOUSE_JWKS !== undefined) keySource = { kind: 'inline', jwks: v.GATEHOUSE_JWKS }
  else if (v.GATEHOUSE_JWKS_URL !== undefined)
    keySource = { kind: 'url', url: v.GATEHOUSE_JWKS_URL }
  else if (!options.origin && !present('GATEHOUSE_JWKS') && !present('GATEHOUSE_JWKS_URL'))
    issue('GATEHOUSE_JWKS_URL', 'one of GATEHOUSE_JWKS_URL or GATEHOUSE_JWKS is required')
  if (present('UPSTASH_REDIS_REST_URL') !== present('UPSTASH_REDIS_REST_TOKEN'))
    issue(
      present('UPSTASH_REDIS_REST_URL') ? 'UPSTASH_REDIS_REST_TOKEN' : 'UPSTASH_REDIS_REST_URL',
      'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together',
    )
  if (present('GATEHOUSE_POLICY_ROUTES')) {
    if (!present('GATEHOUSE_UPSTREAM_URL'))
      issue('GATEHOUSE_POLICY_ROUTES', 'decides gateway routes: set GATEHOUSE_UPSTREAM_URL too')
    if (!present('UPSTASH_REDIS_REST_URL'))
      issue('GATEHOUSE_POLICY_ROUTES', 'reads policy sets from L2: set UPSTASH_REDIS_REST_URL too')
  }
  // The bound a request may be decided on is sync + timeout; staleness below it would flap.
  if (
    v.GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS <
    v.GATEHOUSE_REVOCATION_SYNC_SECONDS + v.GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS / 1000
  )
    issue(
      'GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS',
      'must be at least GATEHOUSE_REVOCATION_SYNC_SECONDS + the sync timeout',
    )

  const config: VerificationConfig = {
    issuer: v.GATEHOUSE_ISSUER ?? '',
    clockLeewaySeconds: v.GATEHOUSE_CLOCK_LEEWAY_SECONDS,
    l1MaxEntries: v.GATEHOUSE_L1_MAX_ENTRIES,
    logLevel: v.GATEHOUSE_LOG_LEVEL,
    upstreamScopes: v.GATEHOUSE_UPSTREAM_SCOPES,
    upstreamTimeoutMs: v.GATEHOUSE_UPSTREAM_TIMEOUT_MS,
    upstreamMaxBodyBytes: v.GATEHOUSE_UPSTREAM_MAX_BODY_BYTES,
    forwardAuthorization: v.GATEHOUSE_FORWARD_AUTHORIZATION,
    port: v.PORT,
    shutdownTimeoutSeconds: v.GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS,
    drainDelaySeconds: v.GATEHOUSE_DRAIN_DELAY_SECONDS,
    revocation: {
      syncSeconds: v.GATEHOUSE_REVOCATION_SYNC_SECONDS,
      syncTimeoutMs: v.GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS,
      maxStalenessSeconds: v.GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS,
      policy: v.GATEHOUSE_REVOCATION_POLICY,
      snapshotSeconds: v.GATEHOUSE_REVOCATION_SNAPSHOT_SECONDS,
    },
    dpop: {
      maxAgeSeconds: v.GATEHOUSE_DPOP_MAX_AGE_SECONDS,
      replayPolicy: v.GATEHOUSE_DPOP_REPLAY_POLICY,
      ...(v.GATEHOUSE_DPOP_NONCE_SECRET === undefined
        ? {}
        : { nonceSecret: v.GATEHOUSE_DPOP_NONCE_SECRET }),
    },
    originTimeoutMs: v.GATEHOUSE_ORIGIN_TIMEOUT_MS,
    originFailureThreshold: v.GATEHOUSE_ORIGIN_FAILURE_THRESHOLD,
    originOpenSeconds: v.GATEHOUSE_ORIGIN_OPEN_SECONDS,
    tenancy: { enabled: v.GATEHOUSE_TENANCY, maxTenants: v.GATEHOUSE_TENANT_CACHE_SIZE },
  }
  if (v.GATEHOUSE_ADMIN_SECRET_HASH !== undefined)
    config.adminSecretHash = v.GATEHOUSE_ADMIN_SECRET_HASH
  // The registry lives in L2; a Worker has no other store (the origin may use its memory store in
  // development, node-config.ts).
  if (v.GATEHOUSE_TENANCY && options.runtime === 'edge' && !present('UPSTASH_REDIS_REST_URL'))
    issue('GATEHOUSE_TENANCY', 'needs the L2 store (UPSTASH_REDIS_REST_URL and _TOKEN)')
  if (v.GATEHOUSE_AUDIENCE !== undefined) config.audience = v.GATEHOUSE_AUDIENCE
  if (keySource) config.keySource = keySource
  if (v.GATEHOUSE_ORIGIN_URL !== undefined) config.originUrl = v.GATEHOUSE_ORIGIN_URL
  if (v.UPSTASH_REDIS_REST_URL !== undefined && v.UPSTASH_REDIS_REST_TOKEN !== undefined)
    config.upstash = { url: v.UPSTASH_REDIS_REST_URL, token: v.UPSTASH_REDIS_REST_TOKEN }
  if (v.GATEHOUSE_UPSTREAM_URL !== undefined) config.upstreamUrl = v.GATEHOUSE_UPSTREAM_URL
  if (v.GATEHOUSE_ALLOWED_ORIGINS !== undefined) config.allowedOrigins = v.GATEHOUSE_ALLOWED_ORIGINS
  if (v.GATEHOUSE_JWKS_REFRESH_SECONDS !== undefined)
    config.jwksRefreshSeconds = v.GATEHOUSE_JWKS_REFRESH_SECONDS
  if (v.GATEHOUSE_JWKS_TIMEOUT_MS !== undefined) config.jwksTimeoutMs = v.GATEHOUSE_JWKS_TIMEOUT_MS
  if (v.HOST !== undefined) config.host = v.HOST
  if (v.GATEHOUSE_POLICY_ROUTES !== undefined)
    config.policy = {
      routes: v.GATEHOUSE_POLICY_ROUTES,
      refreshSeconds: v.GATEHOUSE_POLICY_REFRESH_SECONDS,
    }
  const tracing = tracingConfig(v)
  if (tracing) config.tracing = tracing
  return { config, issues }
}

/** OTLP settings as the OpenTelemetry exporter specification reads them. */
function tracingConfig(v: Values): TracingConfig | undefined {
  if (v.OTEL_SDK_DISABLED) return undefined
  const url =
    v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (v.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
      ? undefined
      : `${v.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`)
  if (url === undefined) return undefined
  return {
    url,
    headers: v.OTEL_EXPORTER_OTLP_HEADERS,
    ...(v.OTEL_SERVICE_NAME === undefined ? {} : { serviceName: v.OTEL_SERVICE_NAME }),
  }
}

/**
 * Every problem in `env` for `options`, without throwing; `config` when there is none. Used by
 * `gatehouse config check` and by the Node entry, which adds the config file's problems.
 *
 * @example const { issues } = checkVerificationConfig(workerVars, { runtime: 'edge' })
 */
export function checkVerificationConfig(
  env: Record<string, unknown>,
  options: ParseOptions = {},
): { config?: VerificationConfig; issues: ConfigIssue[] } {
  const read = readVariables(env, options.runtime)
  // A variable of the other runtime is still read for its default (the assembled config has every
  // field); its value is not used.
  const values = { ...defaults(), ...read.values } as Values
  const { config, issues } = assemble(values, options, (name) => !isUnsetValue(env[name]))
  const all = [
    ...read.issues,
    ...issues.filter((i) => !read.issues.some((r) => r.field === i.field)),
  ]
  return all.length === 0 ? { config, issues: all } : { issues: all }
}

let cachedDefaults: Partial<Values> | undefined
const defaults = (): Partial<Values> => (cachedDefaults ??= readVariables({}).values)

/**
 * Parses the environment into a `VerificationConfig`, or throws one `ConfigError` with a line per
 * problem (`GATEHOUSE_CLOCK_LEEWAY_SECONDS: must be an integer between 0 and 60`).
 *
 * @example
 * const config = parseVerificationConfig(env, { runtime: 'edge' })
 */
export function parseVerificationConfig(
  env: Record<string, unknown>,
  options: ParseOptions = {},
): VerificationConfig {
  const { config, issues } = checkVerificationConfig(env, options)
  if (!config) throw new ConfigError(issues)
  return config
}

/**
 * Reads only the `OTEL_*` variables: the tracing settings, or undefined when tracing is off. Throws a
 * `ConfigError` naming a bad one.
 *
 * @example const tracing = parseTracingConfig(process.env)
 */
export function parseTracingConfig(env: Record<string, unknown>): TracingConfig | undefined {
  const only = Object.fromEntries(
    VARIABLE_NAMES.filter((n) => n.startsWith('OTEL_')).map((n) => [n, env[n]]),
  )
  const { values, issues } = readVariables(only)
  if (issues.length > 0) throw new ConfigError(issues)
  return tracingConfig(values as Values)
}

/**
 * Reads only `GATEHOUSE_LOG_LEVEL`, for code that must log before the whole config is parsed.
 *
 * @example const logger = createJsonLogger({ level: parseLogLevel(process.env) })
 */
export function parseLogLevel(env: Record<string, unknown>): LogLevel {
  const result = VARIABLES.GATEHOUSE_LOG_LEVEL.rule.safeParse(env.GATEHOUSE_LOG_LEVEL)
  if (result.success) return result.data
  throw new ConfigError([
    { field: 'GATEHOUSE_LOG_LEVEL', message: result.error.issues[0]?.message ?? 'invalid' },
  ])
}

/** Names of every variable; the Worker entry fingerprints these. */
export const VERIFICATION_ENV_NAMES: string[] = VARIABLE_NAMES

/** Each variable's rule by name (a zod schema over the raw value). */
export const verificationEnvShape = Object.fromEntries(
  VARIABLE_NAMES.map((name) => [name, VARIABLES[name].rule]),
) as { [K in VariableName]: (typeof VARIABLES)[K]['rule'] }
