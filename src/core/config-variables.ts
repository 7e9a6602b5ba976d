/**
 * Every configuration variable, in one place: its rule (config-rules.ts), where it is read (`edge`:
 * the Worker's bindings; `node`: the Node process's environment), its default and what it means.
 * The entries' schemas (config.ts), `gatehouse config check` and the reference table in
 * docs/configuration.md (checked against this list by test/unit/entry/config-docs.test.ts) all come
 * from here. Unknown `GATEHOUSE_*` names are errors with a "did you mean" hint.
 */
import type { z } from 'zod'
import {
  boolean,
  filePath,
  host,
  optionalIdentifier,
  inlineJwks,
  integer,
  keyText,
  oneOf,
  originList,
  otlpHeaders,
  scopeList,
  secretText,
  sha256Digest,
  text,
  url,
} from './config-rules.ts'
import { policyRoutesRule } from './policy-routes.ts'

export type Runtime = 'edge' | 'node'

export interface Variable<T = unknown> {
  rule: z.ZodType<T, unknown>
  /** Where it is read. */
  runtimes: readonly Runtime[]
  /** For the docs: `required`, the default value, or what happens when unset. */
  default: string
  /** For the docs: what it does. */
  doc: string
  /** A credential: `wrangler secret put` on the Worker, a Kubernetes Secret on the origin. */
  secret?: boolean
}

const BOTH: readonly Runtime[] = ['edge', 'node']
const EDGE: readonly Runtime[] = ['edge']
const NODE: readonly Runtime[] = ['node']

const variable = <T>(
  runtimes: readonly Runtime[],
  defaultText: string,
  doc: string,
  rule: z.ZodType<T, unknown>,
  options: { secret?: boolean } = {},
): Variable<T> => ({ rule, runtimes, default: defaultText, doc, ...options })

export const VARIABLES = {
  GATEHOUSE_ISSUER: variable(
    BOTH,
    'required (origin: the config file’s `issuer`)',
    'exact `iss` of accepted tokens; at the origin it overrides the config file’s issuer',
    optionalIdentifier,
  ),
  GATEHOUSE_AUDIENCE: variable(
    BOTH,
    'required where tokens are verified',
    'the audience `/verify` and the gateway require in `aud`; an origin without it mints tokens but serves no `/verify`',
    optionalIdentifier,
  ),
  GATEHOUSE_JWKS_URL: variable(
    BOTH,
    'one of the two (origin: its own keys)',
    'a remote issuer’s JWKS (https; http only on loopback), refreshed every `GATEHOUSE_JWKS_REFRESH_SECONDS` and at most every 30 s on an unknown `kid`. With the L2 store set, the edge verifies with the key set the origins publish there and uses this only while L2 has none (docs/keys.md)',
    url({ secure: true, allowQuery: true }),
  ),
  GATEHOUSE_JWKS: variable(
    BOTH,
    'one of the two (origin: its own keys)',
    'an inline JWKS (JSON text or a `[vars]` table), public keys only; when both are set it wins over `GATEHOUSE_JWKS_URL`, so a secret or `--var` can replace the toml’s URL',
    inlineJwks,
  ),
  GATEHOUSE_JWKS_REFRESH_SECONDS: variable(
    BOTH,
    '300',
    'how often a remote JWKS is refetched',
    integer(30, 86_400, undefined),
  ),
  GATEHOUSE_JWKS_TIMEOUT_MS: variable(
    BOTH,
    '3000',
    'deadline of one JWKS fetch',
    integer(100, 60_000, undefined),
  ),
  GATEHOUSE_CLOCK_LEEWAY_SECONDS: variable(
    BOTH,
    '0',
    'leeway for `exp`/`nbf`/`iat`, 0–60',
    integer(0, 60, 0),
  ),
  GATEHOUSE_L1_MAX_ENTRIES: variable(
    BOTH,
    '10000',
    'L1 size; 0 turns the cache off',
    integer(0, 1_000_000, 10_000),
  ),
  GATEHOUSE_LOG_LEVEL: variable(
    BOTH,
    'info',
    'debug, info, warn, error, silent',
    oneOf(['debug', 'info', 'warn', 'error', 'silent'] as const, 'info' as const),
  ),
  GATEHOUSE_UPSTREAM_URL: variable(
    BOTH,
    'unset',
    'turns gateway mode on: `/api/*` is verified and forwarded here (needs `GATEHOUSE_AUDIENCE`)',
    url({ secure: false, allowQuery: false }),
  ),
  GATEHOUSE_UPSTREAM_SCOPES: variable(
    BOTH,
    'none',
    'space-separated scopes every gateway request needs',
    scopeList,
  ),
  GATEHOUSE_UPSTREAM_TIMEOUT_MS: variable(
    BOTH,
    '30000',
    'deadline for the whole upstream exchange, both bodies included',
    integer(100, 300_000, 30_000),
  ),
  GATEHOUSE_UPSTREAM_MAX_BODY_BYTES: variable(
    BOTH,
    '1048576',
    'gateway request bodies above this are refused with 413; bodies are read whole before forwarding',
    integer(0, 100 * 1024 * 1024, 1024 * 1024),
  ),
  GATEHOUSE_FORWARD_AUTHORIZATION: variable(
    BOTH,
    'false',
    'forward the caller’s `Authorization` upstream',
    boolean(false),
  ),
  GATEHOUSE_ALLOWED_ORIGINS: variable(
    BOTH,
    'none',
    'browser origins allowed to call the gateway cross-origin, separated by spaces or commas',
    originList,
  ),
  GATEHOUSE_REVOCATION_SYNC_SECONDS: variable(
    BOTH,
    '2',
    'shortest time between two reads of the revocation stream',
    integer(1, 300, 2),
  ),
  GATEHOUSE_REVOCATION_SYNC_TIMEOUT_MS: variable(
    BOTH,
    '1000',
    'a slower sync counts as failed',
    integer(50, 60_000, 1000),
  ),
  GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS: variable(
    BOTH,
    '30',
    'filter age past which the policy applies (≥ sync + timeout)',
    integer(5, 86_400, 30),
  ),
  GATEHOUSE_REVOCATION_POLICY: variable(
    BOTH,
    'open',
    '`open` or `closed` (see [Revocation](revocation.md))',
    oneOf(['open', 'closed'] as const, 'open' as const),
  ),
  GATEHOUSE_TENANCY: variable(
    BOTH,
    'false',
    'serve the tenants registered in L2 beside the default tenant (see [Tenancy](tenancy.md)); needs the L2 store',
    boolean(false),
  ),
  GATEHOUSE_TENANT_CACHE_SIZE: variable(
    BOTH,
    '10000',
    'most tenants whose keys, revocation filter and settings one isolate or process holds at once',
    integer(1, 1_000_000, 10_000),
  ),
  GATEHOUSE_DPOP_MAX_AGE_SECONDS: variable(
    BOTH,
    '60',
    'oldest DPoP proof `iat` accepted, seconds; a proof may be up to 5 s (plus the clock leeway) ahead. Its `jti` is remembered this long plus that margin (see [DPoP](dpop.md))',
    integer(5, 300, 60),
  ),
  GATEHOUSE_DPOP_REPLAY_POLICY: variable(
    BOTH,
    'open',
    'while L2 is unreachable: `open` checks DPoP proof replay in this isolate’s memory only (a replay at another isolate or location within the proof window is not caught), `closed` answers 503 with `Retry-After` (see [DPoP](dpop.md))',
    oneOf(['open', 'closed'] as const, 'open' as const),
  ),
  GATEHOUSE_DPOP_NONCE_SECRET: variable(
    BOTH,
    'unset (no nonces)',
    'set, DPoP proofs at `/verify` and the gateway must carry a nonce this service provides (RFC 9449 §9: 401 `use_dpop_nonce` with `DPoP-Nonce`). The HMAC key of the stateless nonces, at least 32 characters (`openssl rand -base64 32`), the same at every edge so any isolate accepts a nonce another handed out (see [DPoP](dpop.md))',
    keyText(32),
    { secret: true },
  ),
  GATEHOUSE_POLICY_ROUTES: variable(
    BOTH,
    'unset',
    'gateway routes decided by Cedar policies (JSON or a `[vars]` table; [Policy](policy.md)); needs `GATEHOUSE_UPSTREAM_URL` and L2, and on the Worker the `src/entry/worker-cedar.ts` entry',
    policyRoutesRule,
  ),
  GATEHOUSE_POLICY_REFRESH_SECONDS: variable(
    BOTH,
    '10',
    'how often an isolate re-reads the version of a tenant’s policy set in L2',
    integer(1, 3600, 10),
  ),
  UPSTASH_REDIS_REST_URL: variable(
    BOTH,
    'unset',
    'the L2 store (with the token). Without it the origin uses the in-memory store with a warning (refused when `NODE_ENV=production`) and revocation checks are off',
    url({ secure: true, allowQuery: false }),
  ),
  UPSTASH_REDIS_REST_TOKEN: variable(
    BOTH,
    'unset',
    'the L2 store’s token (on the Worker: `wrangler secret put`)',
    secretText,
    { secret: true },
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: variable(
    BOTH,
    'unset (tracing off)',
    'OTLP/HTTP collector; spans go to `<endpoint>/v1/traces`',
    url({ secure: false, allowQuery: false }),
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: variable(
    BOTH,
    'unset',
    'the full traces URL, used as is (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`)',
    url({ secure: false, allowQuery: true }),
  ),
  OTEL_EXPORTER_OTLP_HEADERS: variable(
    BOTH,
    'none',
    'headers for the collector, `k=v,k2=v2` with URL-encoded values',
    otlpHeaders,
    { secret: true },
  ),
  OTEL_SERVICE_NAME: variable(BOTH, '`gatehouse-<role>`', 'the spans’ `service.name`', text(128)),
  OTEL_SDK_DISABLED: variable(BOTH, 'false', '`true` turns tracing off', boolean(false)),
  GATEHOUSE_ORIGIN_URL: variable(
    EDGE,
    'unset',
    'forward the minting routes here (https; http only on loopback)',
    url({ secure: true, allowQuery: false }),
  ),
  GATEHOUSE_ORIGIN_TIMEOUT_MS: variable(
    EDGE,
    '5000',
    'deadline for the whole origin exchange, both bodies included',
    integer(100, 60_000, 5000),
  ),
  GATEHOUSE_ORIGIN_FAILURE_THRESHOLD: variable(
    EDGE,
    '5',
    'consecutive origin failures that open the circuit breaker',
    integer(1, 1000, 5),
  ),
  GATEHOUSE_ORIGIN_OPEN_SECONDS: variable(
    EDGE,
    '30',
    'how long the breaker stays open before one probe',
    integer(1, 3600, 30),
  ),
  GATEHOUSE_CONFIG: variable(
    NODE,
    'unset',
    'path of the origin’s JSON config; set, the process mints tokens',
    filePath,
  ),
  GATEHOUSE_ADMIN_SECRET_HASH: variable(
    NODE,
    'unset (no tenant admin API)',
    '`sha256:` digest of the admin credential the tenant admin API takes as a bearer secret (`gatehouse tenants admin-secret` prints both)',
    sha256Digest,
  ),
  GATEHOUSE_KEYS_FILE: variable(
    NODE,
    'unset',
    'a file `{"keyEncryptionKeys": [...], "keys": [...]}` (a Kubernetes Secret): the key-encryption key and the first signing keys, instead of in the config (docs/keys.md). Refused when group or others can write it',
    filePath,
  ),
  GATEHOUSE_TRUSTED_PROXY_HOPS: variable(
    NODE,
    '0',
    'how many of our proxies (Gatehouse edge, ingress) stand in front; the per-IP login limit then keys on the address `X-Forwarded-For` holds that many hops back from the socket peer. 0 trusts no header. Behind edge + ingress-nginx use 2',
    integer(0, 5, 0),
  ),
  GATEHOUSE_REVOCATION_SNAPSHOT_SECONDS: variable(
    NODE,
    '5',
    'how often the origin rebuilds the revocation filter snapshot',
    integer(1, 3600, 5),
  ),
  GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS: variable(
    NODE,
    '10',
    'time for in-flight requests after the listener closes, before connections are dropped (exit 1)',
    integer(0, 600, 10),
  ),
  GATEHOUSE_DRAIN_DELAY_SECONDS: variable(
    NODE,
    '0',
    'seconds between SIGTERM (readiness 503) and closing the listener; Kubernetes uses 5',
    integer(0, 300, 0),
  ),
  PORT: variable(NODE, '8788', 'the listener’s port', integer(0, 65_535, 8788)),
  HOST: variable(NODE, 'all interfaces', 'the listener’s address', host),
  NODE_ENV: variable(
    NODE,
    'unset',
    '`production` refuses the memory store and a missing key-encryption key',
    text(64),
  ),
} satisfies Record<string, Variable>

export type VariableName = keyof typeof VARIABLES

/** Names in the order above. */
export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[]

/** The names a runtime reads. */
export const variablesOf = (runtime: Runtime): VariableName[] =>
  VARIABLE_NAMES.filter((name) => VARIABLES[name].runtimes.includes(runtime))

/** Names we own: an unknown one with this prefix is a mistake, not someone else's variable. */
export const OWN_PREFIX = 'GATEHOUSE_'
