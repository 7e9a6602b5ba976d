/**
 * The gateway half of `npm run bench:policy`: the real Worker entry with the engine
 * (src/entry/worker-cedar.ts) under `workerd serve`, twice, side by side: once with the 100-policy
 * set deciding the gateway's routes (GATEHOUSE_POLICY_ROUTES), once without. Same bundle, same L2
 * (redis-server behind the Upstash bridge, as `npm run dev`), same upstream (a bare node:http 200),
 * same token. Every policy request is allowed and names a resource of its own. Two policy servers:
 *
 * - `policy`: the 100-policy set as written (roles, scopes, groups; no policy names a resource id),
 *   so a principal's decision on a route serves every id of it from the decision cache.
 * - `perId`: the same set with each forbid also naming one resource (`resource == T::"locked"`), so
 *   every new id is a new engine call: every decision uncached, the worst case.
 *
 * The ratios of their throughputs to the plain server's are the cost of deciding.
 */
import { loadNodeCedar } from '../src/policy/engine-node.ts'
import { publishPolicySet } from '../src/policy/publish.ts'
import { createUpstashStore } from '../src/store/upstash.ts'
import { startDevRedis, type DevRedis } from '../scripts/dev-redis.ts'
import { publicJwks } from '../test/fixtures/keys.ts'
import { startNodeScript } from './lib/http-process.ts'
import {
  measureSlice,
  summarise,
  warmUp,
  type LoadResult,
  type LoadSlice,
} from './lib/http-load.ts'
import { TEST_AUDIENCE, TEST_ISSUER, signEs256Token } from './lib/http-tokens.ts'
import { BENCH_SCHEMA, ROUTES, benchPolicies, roleFor } from './policy-fixtures.ts'
import { serveBundle, type Bundle } from './policy-workerd.ts'

const ROOT = new URL('..', import.meta.url).pathname
const PER_ID_TENANT = 'per-id'
const WARM_UP_SECONDS = 6

/** Publishes the bench's 100 policies (`benchPolicies('scoped', options)`) for `tenant`. */
export async function publishBenchSet(
  redis: DevRedis,
  tenant: string,
  options: { perId?: boolean },
): Promise<void> {
  const published = await publishPolicySet(createUpstashStore(redis), loadNodeCedar(), {
    tenant,
    schema: BENCH_SCHEMA,
    sources: [
      { name: 'bench.cedar', text: Object.values(benchPolicies('scoped', options)).join('\n') },
    ],
  })
  if (!published.ok) throw new Error(`bench set refused: ${published.problems[0]?.message}`)
}

/** The gateway Worker's bindings: bench keys, the upstream, L2; logs at `warn`. */
export function gatewayVars(redis: DevRedis, upstreamPort: number): Record<string, string> {
  return {
    GATEHOUSE_ISSUER: TEST_ISSUER,
    GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
    GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
    GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
    GATEHOUSE_LOG_LEVEL: 'warn',
  }
}

/** GATEHOUSE_POLICY_ROUTES' routes for the bench's 25 actions, the resource from `:id`. */
export const benchRouteTable = () =>
  ROUTES.map((r) => {
    const [method, path] = r.action.split(' ') as [string, string]
    return { method, path, resource: { type: r.resourceType, param: 'id' } }
  })

/** A user every GET route's role permit allows; never suspended. */
export const gatewayToken = () =>
  signEs256Token(1, 3600, { roles: ROUTES.map((_, i) => roleFor(i)), groups: ['team-1'] })

/** GET paths over the bench's GET routes, each with a resource id of its own. */
export function newIdPaths(): () => string {
  let n = 0
  const getRoutes = ROUTES.filter((r) => r.action.startsWith('GET '))
  return () => {
    const route = getRoutes[n % getRoutes.length] as (typeof ROUTES)[number]
    return `/api${route.action.slice(4).replace(':id', `res-${n++}`)}`
  }
}

export interface GatewayRatio {
  plain: LoadResult
  policy: LoadResult
  perId: LoadResult
  /** Requests/s with policy over requests/s without (decisions shared across resource ids). */
  ratio: number
  /** The same with every decision uncached (a policy names a resource id). */
  perIdRatio: number
  connections: number
  slices: number
  /** Who decided the per-id server's uncached decisions (its /policy/status), to show the path. */
  perIdDecidedBy: { evaluator: number; engine: number } | null
}

/**
 * @example const { ratio } = await measureGatewayRatio(bundle, { compatibilityDate, slices: 5 })
 */
export async function measureGatewayRatio(
  bundle: Bundle,
  options: { compatibilityDate: string; slices: number; connections: number },
): Promise<GatewayRatio> {
  const redis = await startDevRedis({ cwd: ROOT, log: () => {} })
  if (!redis) throw new Error('bench:policy needs redis-server for the gateway rows')
  const stoppers: (() => Promise<void>)[] = [() => redis.stop()]
  try {
    await publishBenchSet(redis, 'default', {})
    await publishBenchSet(redis, PER_ID_TENANT, { perId: true })
    const upstream = await startNodeScript('upstream', 'bench/lib/http-upstream.ts', {})
    stoppers.push(() => upstream.stop())
    const vars = gatewayVars(redis, upstream.port)
    const routes = benchRouteTable()
    const serve = (name: string, extra: Record<string, string>) =>
      serveBundle(bundle, {
        compatibilityDate: options.compatibilityDate,
        vars: { ...vars, ...extra },
        readyPath: '/healthz',
        name,
      })
    const plain = await serve('gateway-plain', {})
    stoppers.push(() => plain.stop())
    const policy = await serve('gateway-policy', {
      GATEHOUSE_POLICY_ROUTES: JSON.stringify({ routes }),
    })
    stoppers.push(() => policy.stop())
    // A fixed tenant: this server decides with the per-id set (the tokens carry no tenant).
    const perId = await serve('gateway-per-id', {
      GATEHOUSE_POLICY_ROUTES: JSON.stringify({ tenant: PER_ID_TENANT, routes }),
    })
    stoppers.push(() => perId.stop())

    const token = gatewayToken()
    const path = newIdPaths()
    for (const server of [plain, policy, perId]) {
      const response = await fetch(`${server.url}${path()}`, {
        headers: { authorization: `Bearer ${token}` },
      })
      if (response.status !== 200) {
        throw new Error(`gateway answered ${response.status}: ${await response.text()}`)
      }
    }
    const load = (server: typeof plain) => ({
      origin: server.url,
      path,
      token,
      connections: options.connections,
      pid: server.child.pid as number,
    })
    // Long enough for the engine's WebAssembly to reach TurboFan (a few thousand decisions; in 2 s
    // the per-id server was still getting faster: ~2,000 µs → ~500 µs CPU per request over its
    // first ~5,000 requests).
    for (const server of [plain, policy, perId]) await warmUp(load(server), WARM_UP_SECONDS)
    const slices = { plain: [] as LoadSlice[], policy: [] as LoadSlice[], perId: [] as LoadSlice[] }
    for (let i = 0; i < options.slices; i++) {
      slices.plain.push(await measureSlice(load(plain), 1))
      slices.policy.push(await measureSlice(load(policy), 1))
      slices.perId.push(await measureSlice(load(perId), 1))
    }
    const status = (await (await fetch(`${perId.url}/policy/status`)).json()) as {
      tenants: { tenant: string; decidedBy: GatewayRatio['perIdDecidedBy'] }[]
    }
    const perIdDecidedBy = status.tenants.find((t) => t.tenant === PER_ID_TENANT)?.decidedBy ?? null
    const result = {
      plain: summarise(slices.plain),
      policy: summarise(slices.policy),
      perId: summarise(slices.perId),
    }
    for (const [name, r] of Object.entries(result)) {
      if (r.errors > 0 || r.non200 > 0) {
        throw new Error(`gateway ${name}: ${r.errors} errors, ${r.non200} non-200 responses`)
      }
    }
    return {
      ...result,
      ratio: result.policy.requestsPerSec / result.plain.requestsPerSec,
      perIdRatio: result.perId.requestsPerSec / result.plain.requestsPerSec,
      connections: options.connections,
      slices: options.slices,
      perIdDecidedBy,
    }
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined)
  }
}
