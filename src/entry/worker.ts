/**
 * The Cloudflare Worker entry (role `edge`). Config comes from the Worker's bindings ([vars] in
 * wrangler.toml, secrets). The verifier, key set and L1 cache are built once per isolate, lazily on the
 * first request (bindings are not available before one), and rebuilt only when the config changes.
 * A bad config answers every request with a generic 500 and logs every problem once (run
 * `gatehouse config check --wrangler wrangler.toml` before `wrangler deploy` to see them earlier).
 * Precedence: Cloudflare merges secrets and `--var` over the toml's [vars] before we see them; across
 * names, an inline `GATEHOUSE_JWKS` wins over `GATEHOUSE_JWKS_URL` (core/config.ts).
 *
 * This entry leaves the Cedar engine out of the bundle: workerd compiles every .wasm module of a
 * Worker when it loads it, used or not (docs/policy.md, "Cost at the edge"). worker-cedar.ts is the
 * same Worker with the engine, for deployments that set GATEHOUSE_POLICY_ROUTES.
 */
import type { ExecutionContext, Hono } from 'hono'
import { ConfigError, VERIFICATION_ENV_NAMES, parseVerificationConfig } from '../core/config.ts'
import { OWN_PREFIX } from '../core/config-variables.ts'
import { createJsonLogger, redactTokens } from '../http/log.ts'
import { tracingFromConfig } from '../http/tracing.ts'
import type { GatehouseEnv } from '../http/types.ts'
import type { CedarEngineLoader } from '../policy/engine.ts'
import { createRevocationSync, type RevocationSync } from '../revocation/index.ts'
import { createUpstashStore } from '../store/upstash.ts'
import { createEdgeTenancy } from '../tenancy/edge-tenancy.ts'
import { loadSbbfBackend } from '../wasm/load-worker.ts'
import { appFromConfig } from './app-from-config.ts'

type Bindings = Record<string, unknown>

interface Built {
  fingerprint: string
  app: Hono<GatehouseEnv> | undefined
  /** Present when the L2 store is configured: this isolate's revocation filter and its sync. */
  revocation?: RevocationSync
}

let built: Built | undefined
let builtForEnv: Bindings | undefined
/** Set by worker-cedar.ts: the Cedar engine for GATEHOUSE_POLICY_ROUTES. */
let policyEngine: CedarEngineLoader | undefined

/** The config-relevant bindings as one string; env objects may differ per request, values rarely. */
const fingerprintOf = (env: Bindings): string =>
  JSON.stringify([
    VERIFICATION_ENV_NAMES.map((name) => env[name] ?? null),
    // An unknown GATEHOUSE_* name makes the config invalid, so it is part of it.
    Object.keys(env).filter((name) => name.startsWith(OWN_PREFIX) && !KNOWN.has(name)),
  ])
const KNOWN = new Set(VERIFICATION_ENV_NAMES)

async function builtFor(env: Bindings): Promise<Built> {
  if (built !== undefined && env === builtForEnv) return built
  const fingerprint = fingerprintOf(env)
  if (built?.fingerprint === fingerprint) {
    builtForEnv = env
    return built
  }
  let app: Hono<GatehouseEnv> | undefined
  let revocation: RevocationSync | undefined
  try {
    const config = parseVerificationConfig(env, { runtime: 'edge' })
    const logger = createJsonLogger({ level: config.logLevel })
    const store = config.upstash && createUpstashStore(config.upstash)
    if (store) {
      // Built once per isolate: the filter lives in this isolate's WebAssembly memory.
      revocation = createRevocationSync({
        store,
        backend: loadSbbfBackend(),
        syncSeconds: config.revocation.syncSeconds,
        syncTimeoutMs: config.revocation.syncTimeoutMs,
        maxStalenessSeconds: config.revocation.maxStalenessSeconds,
        policy: config.revocation.policy,
        logger,
      })
    } else {
      logger.log({ level: 'warn', msg: 'no UPSTASH_REDIS_REST_URL/TOKEN: edge revocation is off' })
    }
    // OpenTelemetry spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; each request's
    // export runs in waitUntil (tracing.ts).
    const tracing = tracingFromConfig(config.tracing, { role: 'edge', logger })
    // GATEHOUSE_TENANCY: the tenant is chosen from each token's iss (docs/tenancy.md).
    const tenancy =
      config.tenancy.enabled && store
        ? createEdgeTenancy({ config, store, logger, ...(revocation ? { revocation } : {}) })
        : undefined
    const middleware = [
      ...(tracing ? [tracing.middleware] : []),
      ...(tenancy ? [tenancy.middleware] : []),
    ]
    app = await appFromConfig(config, {
      role: 'edge',
      logger,
      ...(tenancy ? { verifier: tenancy.verifierWith, onOriginProxy: tenancy.forwardThrough } : {}),
      ...(middleware.length > 0 ? { middleware } : {}),
      ...(store && revocation ? { revocation: { sync: revocation, store } } : {}),
      // Keys, JWKS and discovery from the set the origins publish in L2 (edge-keys.ts).
      ...(store ? { keyStore: store } : {}),
      ...(store ? { dpopStore: store } : {}),
      policy: {
        ...(policyEngine ? { engine: policyEngine } : {}),
        ...(store ? { store } : {}),
      },
    })
  } catch (err) {
    // Names of the bad variables and the rules they broke; never their values.
    createJsonLogger().log({
      level: 'error',
      msg: 'invalid configuration',
      ...(err instanceof ConfigError
        ? { fields: err.fields, detail: err.message }
        : err instanceof Error
          ? { errorName: err.name, detail: redactTokens(err.message) }
          : { errorName: typeof err }),
    })
  }
  built = { fingerprint, app, ...(revocation ? { revocation } : {}) }
  builtForEnv = env
  return built
}

const worker = {
  fetch(request: Request, env: Bindings, ctx?: ExecutionContext): Response | Promise<Response> {
    // Once built for these bindings, no await: a promise turn per request for nothing (issue 15).
    if (built !== undefined && env === builtForEnv) return serve(built, request, env, ctx)
    return builtFor(env ?? {}).then((b) => serve(b, request, env, ctx))
  },
}

function serve(
  { app, revocation }: Built,
  request: Request,
  env: Bindings,
  ctx: ExecutionContext | undefined,
): Response | Promise<Response> {
  // Reads new revocation events at most every GATEHOUSE_REVOCATION_SYNC_SECONDS, in waitUntil so
  // no request waits for it (a request on a filter past the bound syncs first: edge-sync.ts).
  if (ctx && revocation) revocation.maybeSync((p) => ctx.waitUntil(p))
  if (app === undefined) {
    return Response.json(
      { error: 'server_error', error_description: 'the service is misconfigured' },
      { status: 500, headers: { 'Cache-Control': 'no-store' } },
    )
  }
  return app.fetch(request, env, ctx)
}

/**
 * This Worker with the Cedar engine (worker-cedar.ts), loaded on the first policy decision.
 *
 * @example export default withPolicyEngine(loadWorkerCedar)
 */
export function withPolicyEngine(engine: CedarEngineLoader): typeof worker {
  policyEngine = engine
  return worker
}

export default worker
