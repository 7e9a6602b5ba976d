/**
 * Builds the app from a parsed `VerificationConfig`: the verifier (key set, core verifier, L1 cache)
 * and `createApp` deps. Shared by the Worker and the Node entry so both serve the same thing.
 */
import type { Hono, MiddlewareHandler } from 'hono'
import { ConfigError, type VerificationConfig } from '../core/config.ts'
import type { SignatureCheck } from '../core/signature.ts'
import type { Clock } from '../core/types.ts'
import { createApp } from '../http/app.ts'
import { cloudflareClientIp } from '../http/client-ip.ts'
import type { KeySet } from '../core/jwks.ts'
import { buildKeySet, buildVerifier } from '../http/build-verifier.ts'
import { createEdgeKeys, type EdgeKeys } from '../http/edge-keys.ts'
import { edgeMetricsRoute } from '../http/edge-metrics.ts'
import { createDpopGuard, type DpopGuard } from '../http/dpop-guard.ts'
import { createOriginProxy, type OriginProxy } from '../http/origin-proxy.ts'
import type { CedarEngineLoader } from '../policy/engine.ts'
import { createPolicySets, type PolicySets } from '../policy/policy-sets.ts'
import type { RevocationSync } from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import type { Logger } from '../http/log.ts'
import type { UpstreamFetch } from '../http/forwarder.ts'
import type { AppDeps, GatehouseEnv, TokenVerifier } from '../http/types.ts'

export interface RuntimeOptions {
  role: AppDeps['role']
  logger: Logger
  /** Node passes `nodeSignatureCheck`; the Worker uses the core's WebCrypto default. */
  checkSignature?: SignatureCheck
  /** Used for the remote JWKS, and for the gateway upstream without `upstreamFetch`. Default `globalThis.fetch`. */
  fetch?: typeof fetch
  /** The gateway's upstream client instead of `fetch` (Node: node-upstream-fetch.ts). */
  upstreamFetch?: UpstreamFetch
  now?: Clock
  /** Extra route groups, e.g. the origin's OAuth endpoints. */
  routes?: AppDeps['routes']
  middleware?: AppDeps['middleware']
  /** Per-request work inside the request id / access log layer (Node: request guard, metrics). */
  requestHooks?: AppDeps['requestHooks']
  extend?: AppDeps['extend']
  /**
   * The client's address as this runtime knows it, sent on as `X-Forwarded-For` by the gateway and
   * the origin proxy. Default on the edge: `cf-connecting-ip`; elsewhere none.
   */
  clientIp?: AppDeps['clientIp']
  /** Edge revocation sync and the L2 store hits are confirmed in (see build-verifier.ts). */
  revocation?: { sync: RevocationSync; store: Pick<Store, 'get'> }
  /** Edge: the L2 store holding the published key set, JWKS and discovery (edge-keys.ts). */
  keyStore?: Pick<Store, 'get'>
  /** Origin: its own managed key set, used instead of `config.keySource`. */
  keySet?: KeySet
  /**
   * Builds the verifier instead of the config's single-issuer one: the multi-tenant one
   * (src/tenancy/), given the default issuer's key set (edge: from L2; origin: its own keys).
   */
  verifier?: (keySet: KeySet | undefined) => Promise<TokenVerifier>
  /** L2 for the DPoP replay cache; without it a replay is caught only in this isolate's memory. */
  dpopStore?: Pick<Store, 'set'>
  /**
   * What Cedar decisions need when GATEHOUSE_POLICY_ROUTES is set: the engine (loaded on the first
   * decision) and the L2 store the policy sets are read from. `context.ip` is `clientIp`.
   */
  policy?: { engine?: CedarEngineLoader; store?: Pick<Store, 'get'> }
  /** Edge: told the origin proxy once built (custom-host tenants forward through it, src/tenancy/). */
  onOriginProxy?: (proxy: OriginProxy) => void
}

/**
 * @example
 * const app = await appFromConfig(parseVerificationConfig(env), { role: 'edge', logger })
 */
export async function appFromConfig(
  config: VerificationConfig,
  runtime: RuntimeOptions,
): Promise<Hono<GatehouseEnv>> {
  const edgeKeys = await edgeKeysFor(config, runtime)
  const keySet = edgeKeys?.keySet ?? runtime.keySet
  // A minting origin without GATEHOUSE_AUDIENCE verifies nothing itself: no /verify, no gateway.
  const verifier =
    runtime.verifier !== undefined
      ? await runtime.verifier(keySet)
      : config.audience === undefined
        ? undefined
        : await verifierFor(config, config.audience, runtime, keySet)
  const revocation = runtime.revocation
  const clientIp = runtime.clientIp ?? (runtime.role === 'edge' ? cloudflareClientIp : undefined)
  const policySets = policySetsFor(config, runtime)
  const upstreamFetch = runtime.upstreamFetch ?? runtime.fetch
  return createApp({
    role: runtime.role,
    ...(verifier ? { verifier, dpop: dpopGuardFor(config, runtime) } : {}),
    logger: runtime.logger,
    ...(upstreamFetch === undefined ? {} : { fetch: upstreamFetch }),
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
    ...(clientIp === undefined ? {} : { clientIp }),
    routes: [
      ...(edgeKeys ? [{ path: '/', app: edgeKeys.routes }] : []),
      ...originProxyRoutes(config, runtime),
      ...(runtime.routes ?? []),
    ],
    ...(runtime.middleware === undefined ? {} : { middleware: runtime.middleware }),
    ...(runtime.requestHooks === undefined ? {} : { requestHooks: runtime.requestHooks }),
    extend: (app) => {
      // How fresh this isolate's revocation filter is (DESIGN.md: the edge reports its age).
      // …and where its keys come from, and whether that copy is current (edge-keys.ts).
      const status = () => ({
        ...(revocation?.sync.status() ?? { enabled: false }),
        ...(edgeKeys ? { keys: edgeKeys.status() } : {}),
      })
      // A copy past its refresh is re-read first (rate-limited, under the read's deadline), so the
      // report says whether L2 can be read now, even when every token was an L1 hit meanwhile.
      const refreshKeys: MiddlewareHandler<GatehouseEnv> = async (_c, next) => {
        await edgeKeys?.keySet.document()
        await next()
      }
      app.get('/revocation/status', refreshKeys, (c) =>
        c.json(status(), 200, { 'Cache-Control': 'no-store' }),
      )
      if (runtime.role === 'edge')
        app.get(
          '/metrics',
          refreshKeys,
          edgeMetricsRoute(() => revocation?.sync.status(), edgeKeys?.status),
        )
      // Which policy set version each tenant has in force in this isolate (docs/policy.md).
      app.get('/policy/status', (c) =>
        c.json(
          policySets ? { enabled: true, tenants: policySets.status() } : { enabled: false },
          200,
          { 'Cache-Control': 'no-store' },
        ),
      )
      runtime.extend?.(app)
    },
    ...(config.upstreamUrl === undefined
      ? {}
      : {
          gateway: {
            url: config.upstreamUrl,
            scopes: config.upstreamScopes,
            forwardAuthorization: config.forwardAuthorization,
            timeoutMs: config.upstreamTimeoutMs,
            maxBodyBytes: config.upstreamMaxBodyBytes,
            ...(config.allowedOrigins === undefined
              ? {}
              : { allowedOrigins: config.allowedOrigins }),
            ...(policySets && config.policy
              ? {
                  policy: { table: config.policy.routes, policySets },
                }
              : {}),
          },
        }),
  })
}

/**
 * The edge verifies with the key set the origins publish in L2 and serves its JWKS and discovery;
 * the configured key source is used only while L2 has none for this issuer.
 */
async function edgeKeysFor(
  config: VerificationConfig,
  runtime: RuntimeOptions,
): Promise<EdgeKeys | undefined> {
  if (runtime.role !== 'edge' || !runtime.keyStore) return undefined
  return createEdgeKeys({
    issuer: config.issuer,
    store: runtime.keyStore,
    ...(config.keySource
      ? { fallback: await buildKeySet({ ...config, ...runtime, keySource: config.keySource }) }
      : {}),
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
  })
}

/** DPoP proof checks for /verify and the gateway, with the replay cache in L1 and L2 (docs/dpop.md). */
function dpopGuardFor(config: VerificationConfig, runtime: RuntimeOptions): DpopGuard {
  const store = runtime.dpopStore
  if (store === undefined)
    runtime.logger.log({
      level: 'warn',
      msg: 'no L2 store: a DPoP proof replayed at another isolate or process is not caught',
    })
  return createDpopGuard({
    maxAgeSeconds: config.dpop.maxAgeSeconds,
    replayPolicy: config.dpop.replayPolicy,
    clockLeewaySeconds: config.clockLeewaySeconds,
    ...(config.dpop.nonceSecret === undefined ? {} : { nonceSecret: config.dpop.nonceSecret }),
    ...(store === undefined ? {} : { store }),
    ...(runtime.checkSignature === undefined ? {} : { checkSignature: runtime.checkSignature }),
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
    onStoreFailure: (error, decision) =>
      runtime.logger.log({
        level: 'warn',
        msg: `DPoP replay check without L2: proof ${decision}`,
        policy: config.dpop.replayPolicy,
        errorName: error instanceof Error ? error.name : typeof error,
      }),
  })
}

function verifierFor(
  config: VerificationConfig,
  audience: string,
  runtime: RuntimeOptions,
  keySet: KeySet | undefined,
) {
  if (config.keySource === undefined && keySet === undefined)
    throw new TypeError('appFromConfig: keySource required (the origin passes its own keys)')
  return buildVerifier({
    issuer: config.issuer,
    audience,
    ...(keySet ? { keySet } : {}),
    ...(config.keySource ? { keySource: config.keySource } : {}),
    clockLeewaySeconds: config.clockLeewaySeconds,
    l1MaxEntries: config.l1MaxEntries,
    ...(runtime.checkSignature === undefined ? {} : { checkSignature: runtime.checkSignature }),
    ...(runtime.fetch === undefined ? {} : { fetch: runtime.fetch }),
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
    ...(config.jwksRefreshSeconds === undefined
      ? {}
      : { jwksRefreshSeconds: config.jwksRefreshSeconds }),
    ...(config.jwksTimeoutMs === undefined ? {} : { jwksTimeoutMs: config.jwksTimeoutMs }),
    ...(runtime.revocation === undefined ? {} : { revocation: runtime.revocation }),
  })
}

/**
 * The policy sets behind the gateway's Cedar routes, built once per app. A runtime without the engine
 * (the plain Worker entry, which leaves the 4 MB .wasm out of its bundle) refuses the config.
 */
function policySetsFor(
  config: VerificationConfig,
  runtime: RuntimeOptions,
): PolicySets | undefined {
  if (config.policy === undefined) return undefined
  const { engine, store } = runtime.policy ?? {}
  if (engine === undefined || store === undefined) {
    throw new ConfigError([
      {
        field: 'GATEHOUSE_POLICY_ROUTES',
        message:
          engine === undefined
            ? 'this Worker is built without the Cedar engine: deploy src/entry/worker-cedar.ts'
            : 'needs the L2 store (UPSTASH_REDIS_REST_URL and _TOKEN)',
      },
    ])
  }
  return createPolicySets({
    store,
    engine,
    refreshSeconds: config.policy.refreshSeconds,
    logger: runtime.logger,
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
  })
}

/**
 * At the edge with `GATEHOUSE_ORIGIN_URL` set, the minting routes are forwarded to the origin with a
 * timeout and a circuit breaker (503 + Retry-After while it is down). The app, and so the breaker, is
 * built once per isolate.
 */
function originProxyRoutes(
  config: VerificationConfig,
  runtime: RuntimeOptions,
): NonNullable<AppDeps['routes']> {
  if (runtime.role !== 'edge' || config.originUrl === undefined) return []
  const basePath = URL.canParse(config.issuer)
    ? new URL(config.issuer).pathname.replace(/\/+$/, '')
    : ''
  const proxy = createOriginProxy({
    originUrl: config.originUrl,
    timeoutMs: config.originTimeoutMs,
    breaker: {
      failureThreshold: config.originFailureThreshold,
      openSeconds: config.originOpenSeconds,
    },
    basePath,
    // Path-based tenants' minting routes, `<issuer>/t/{id}/token` etc. (docs/tenancy.md).
    ...(config.tenancy.enabled ? { extraBasePaths: [`${basePath}/t/:tenant`] } : {}),
    logger: runtime.logger,
    ...(runtime.clientIp === undefined ? {} : { clientIp: runtime.clientIp }),
    ...(runtime.fetch === undefined ? {} : { fetch: runtime.fetch }),
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
  })
  runtime.onOriginProxy?.(proxy)
  return [{ path: '/', app: proxy }]
}
