/**
 * The Worker that `npm run bench:policy` bundles with wrangler and runs under `workerd serve`. The
 * driver times requests from outside (inside workerd the clock stands still while code runs without
 * I/O); each `/run` runs `n` ops of one row.
 *
 *   GET /noop                  nothing (the request overhead the driver subtracts)
 *   GET /init                  instantiate the Cedar engine (initSync), the first time only
 *   GET /compile?shape=scoped  compile the 100-policy set (a new version each call)
 *   GET /decide                one decision on the set compiled last (a new action slice at first)
 *   POST /setup                compile both shapes and build the request pools for the rows
 *   GET /run?row=<id>&n=<ops>  run n ops of a row
 */
import { compilePolicySet, type CompiledPolicySet } from '../src/policy/compiled-set.ts'
import { createDecisionCache } from '../src/policy/decision-cache.ts'
import { loadWorkerCedar } from '../src/policy/engine-worker.ts'
import type { PolicyDocument } from '../src/policy/policy-document.ts'
import { buildCedarRequest, type CedarRequest, type RequestFacts } from '../src/policy/request.ts'
import { BENCH_SCHEMA, ROUTES, benchClaims, benchPolicies } from './policy-fixtures.ts'

const POOL = 4096
let version = 0
let last: CompiledPolicySet | undefined
let rows = new Map<string, () => unknown>()

function compile(shape: 'scoped' | 'unscoped', cacheEntries: number): CompiledPolicySet {
  version++
  const document: PolicyDocument = {
    format: 1,
    tenant: 'default',
    version,
    publishedAt: new Date(0).toISOString(),
    schema: BENCH_SCHEMA,
    policies: benchPolicies(shape),
  }
  const compiled = compilePolicySet(loadWorkerCedar(), document, {
    slot: `bench-${version}`,
    cache: createDecisionCache({ maxEntries: cacheEntries }),
  })
  if (!compiled.ok) throw new Error(compiled.reason)
  return compiled.set
}

/** The i-th request: a route and a user, a resource id of its own (so nothing repeats). */
function facts(i: number): RequestFacts {
  const route = ROUTES[i % ROUTES.length] as (typeof ROUTES)[number]
  return {
    claims: benchClaims(i),
    tenant: 'default',
    action: route.action,
    resource: { type: route.resourceType, id: `res-${i}` },
    clientIp: '10.0.0.1',
    nowMs: 1_900_000_000_000 + i * 1000,
    params: { id: `res-${i}` },
  }
}

function built(i: number): CedarRequest {
  const result = buildCedarRequest(facts(i))
  if (!result.ok) throw new Error(result.reason)
  return result.request
}

function cycle<T>(items: readonly T[]): () => T {
  let i = 0
  return () => {
    const item = items[i] as T
    i = i + 1 === items.length ? 0 : i + 1
    return item
  }
}

function setup(): string[] {
  const scoped = compile('scoped', 0)
  const unscoped = compile('unscoped', 0)
  const cachedSet = compile('scoped', 10_000)
  const factsPool = Array.from({ length: POOL }, (_, i) => facts(i))
  const requests = factsPool.map((_, i) => built(i))
  const hot = requests.slice(0, 64)
  for (const r of hot) cachedSet.decide(r)
  // Every slice is pre-parsed before timing starts (a one-time cost per action per version).
  for (const r of requests.slice(0, ROUTES.length)) {
    scoped.decide(r)
    unscoped.decide(r)
  }
  const nextFacts = cycle(factsPool)
  const nextRequest = cycle(requests)
  const nextHot = cycle(hot)
  const allows = requests.filter((r) => scoped.decide(r).decision === 'allow').length
  if (allows === 0 || allows === requests.length) throw new Error('bench set decides one way only')
  rows = new Map<string, () => unknown>([
    [
      'request-and-decision-scoped',
      () => {
        const result = buildCedarRequest(nextFacts())
        if (!result.ok) throw new Error(result.reason)
        return scoped.decide(result.request)
      },
    ],
    ['decision-scoped', () => scoped.decide(nextRequest())],
    ['decision-unscoped', () => unscoped.decide(nextRequest())],
    ['decision-cached', () => cachedSet.decide(nextHot())],
    ['request-only', () => buildCedarRequest(nextFacts())],
  ])
  return [...rows.keys()]
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    switch (url.pathname) {
      case '/noop':
        return new Response('ok')
      case '/init':
        return new Response(loadWorkerCedar().getCedarVersion())
      case '/compile':
        last = compile(url.searchParams.get('shape') === 'unscoped' ? 'unscoped' : 'scoped', 0)
        return new Response(String(last.policyCount))
      case '/decide':
        return Response.json(last?.decide(built(1)) ?? null)
      case '/setup':
        return Response.json({ rows: setup() })
      case '/run': {
        const op = rows.get(url.searchParams.get('row') ?? '')
        if (!op) return new Response('no such row', { status: 404 })
        const n = Number(url.searchParams.get('n'))
        const t0 = performance.now()
        for (let i = 0; i < n; i++) op()
        return Response.json({ n, clockAdvancedMs: performance.now() - t0 })
      }
      default:
        return new Response('not found', { status: 404 })
    }
  },
}
