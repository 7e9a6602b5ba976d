/**
 * The decision rows of `npm run bench:policy`, runtime-neutral: the same rows run inside workerd
 * (bench/policy-worker.ts, with the web build) and on Node (bench/policy.bench.ts, the nodejs build).
 * Every uncached row decides a request whose resource id is its own, so nothing repeats.
 */
import { compilePolicySet, type CompiledPolicySet } from '../src/policy/compiled-set.ts'
import { createDecisionCache } from '../src/policy/decision-cache.ts'
import type { CedarModule } from '../src/policy/engine.ts'
import { parsePolicyDocument, type PolicyDocument } from '../src/policy/policy-document.ts'
import { preparePolicySet } from '../src/policy/prepare.ts'
import { buildCedarRequest, type CedarRequest, type RequestFacts } from '../src/policy/request.ts'
import { BENCH_SCHEMA, ROUTES, benchClaims, benchPolicies } from './policy-fixtures.ts'

const POOL = 4096
let version = 0

/** Row id → what it measures. */
export const ROW_NAMES: Record<string, string> = {
  'request-and-decision-scoped': 'request from claims + decision, uncached (100 policies)',
  'decision-scoped': 'decision, uncached (100 policies; 4 apply to the action, 3 to a user)',
  'decision-scoped-engine': 'the same decision, uncached, by the engine (evaluator off)',
  'decision-unscoped': 'decision, uncached (100 policies, all 100 apply to every action)',
  'decision-cached': 'decision, L1 cache hit',
  'request-only': 'request from claims only',
  'engine-floor': 'engine call with nothing to decide (no policy, entity or context)',
}

/** The two shapes of the 100-policy set as published documents (JSON text, as L2 holds them). */
export interface BenchDocuments {
  scoped: string
  unscoped: string
}

/**
 * Validates and prepares both shapes as `publish` would (on Node: the CLI's work, not the edge's).
 *
 * @example const documents = benchDocuments(loadNodeCedar())
 */
export function benchDocuments(engine: CedarModule): BenchDocuments {
  const documentOf = (shape: 'scoped' | 'unscoped'): string => {
    const prepared = preparePolicySet(engine, {
      schema: BENCH_SCHEMA,
      sources: [{ name: `${shape}.cedar`, text: Object.values(benchPolicies(shape)).join('\n') }],
    })
    if (!prepared.ok) throw new Error(`bench set refused: ${prepared.problems[0]?.message}`)
    const document: PolicyDocument = {
      format: 1,
      tenant: 'default',
      version: 1,
      publishedAt: new Date(0).toISOString(),
      schema: prepared.set.schema,
      policies: prepared.set.policies,
    }
    return JSON.stringify(document)
  }
  return { scoped: documentOf('scoped'), unscoped: documentOf('unscoped') }
}

/**
 * A document read as the edge reads it from L2 and compiled as a new version; `cacheEntries` 0
 * turns the decision cache off.
 *
 * @example const set = compileBenchSet(loadNodeCedar(), documents.scoped, 0)
 */
export function compileBenchSet(
  engine: CedarModule,
  documentText: string,
  cacheEntries: number,
  evaluator = true,
): CompiledPolicySet {
  const document = parsePolicyDocument(documentText)
  if (!document) throw new Error('not a policy document')
  version++
  const compiled = compilePolicySet(
    engine,
    { ...document, version },
    {
      slot: `bench-${version}`,
      cache: createDecisionCache({ maxEntries: cacheEntries }),
      evaluator,
    },
  )
  if (!compiled.ok) throw new Error(compiled.reason)
  return compiled.set
}

/** The i-th request: a route and a user, with a resource id of its own. */
export function benchFacts(i: number): RequestFacts {
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

/** `benchFacts(i)` built into a Cedar request. */
export function benchRequest(i: number): CedarRequest {
  const result = buildCedarRequest(benchFacts(i))
  if (!result.ok) throw new Error(result.reason)
  return result.request
}

/**
 * Compiles the sets, warms every action slice and returns the rows (id → one op). Throws if the set
 * decides the pool one way only (the bench would then measure a degenerate case).
 *
 * @example for (const [id, op] of decisionRows(loadNodeCedar(), documents)) op()
 */
export function decisionRows(
  engine: CedarModule,
  documents: BenchDocuments,
): Map<string, () => unknown> {
  const scoped = compileBenchSet(engine, documents.scoped, 0)
  const unscoped = compileBenchSet(engine, documents.unscoped, 0)
  const engineOnly = compileBenchSet(engine, documents.scoped, 0, false)
  const cached = compileBenchSet(engine, documents.scoped, 10_000)
  const facts = Array.from({ length: POOL }, (_, i) => benchFacts(i))
  const requests = facts.map((_, i) => benchRequest(i))
  // Every slice is pre-parsed before timing starts (a one-time cost per action per version).
  for (const r of requests.slice(0, ROUTES.length)) {
    scoped.decide(r)
    unscoped.decide(r)
    engineOnly.decide(r)
  }
  const hot = requests.slice(0, 64)
  for (const r of hot) cached.decide(r)
  const allows = requests.filter((r) => scoped.decide(r).decision === 'allow').length
  if (allows === 0 || allows === requests.length) throw new Error('bench set decides one way only')
  // The rows time what they say: the evaluator decided every uncached decision of the scoped and
  // unscoped sets, the engine every one of the engine-only set, and the two agree.
  for (const r of requests) {
    const [a, b] = [scoped.decide(r), engineOnly.decide(r)]
    if (
      a.decision !== b.decision ||
      [...a.policies].sort().join() !== [...b.policies].sort().join()
    ) {
      throw new Error('the evaluator and the engine disagree on a bench request')
    }
    unscoped.decide(r)
  }
  if (scoped.decidedBy.engine + unscoped.decidedBy.engine + engineOnly.decidedBy.evaluator > 0) {
    throw new Error('a bench decision was not decided by the path its row names')
  }
  // The engine's fixed cost per call: what any decision pays before its input and policies.
  const floorSet = `bench-floor-${++version}`
  engine.preparsePolicySet(floorSet, { staticPolicies: {} })
  const floorCall = {
    principal: { type: 'User', id: 'user-0' },
    action: { type: 'Action', id: (ROUTES[0] as (typeof ROUTES)[number]).action },
    resource: { type: 'Document', id: 'res-0' },
    context: {},
    entities: [],
    preparsedPolicySetId: floorSet,
  }
  let f = 0
  let r = 0
  let h = 0
  const nextFacts = () => facts[(f = (f + 1) % POOL)] as RequestFacts
  const nextRequest = () => requests[(r = (r + 1) % POOL)] as CedarRequest
  return new Map<string, () => unknown>([
    [
      'request-and-decision-scoped',
      () => {
        const built = buildCedarRequest(nextFacts())
        if (!built.ok) throw new Error(built.reason)
        return scoped.decide(built.request)
      },
    ],
    ['decision-scoped', () => scoped.decide(nextRequest())],
    ['decision-scoped-engine', () => engineOnly.decide(nextRequest())],
    ['decision-unscoped', () => unscoped.decide(nextRequest())],
    ['decision-cached', () => cached.decide(hot[(h = (h + 1) % hot.length)] as CedarRequest)],
    ['request-only', () => buildCedarRequest(nextFacts())],
    ['engine-floor', () => engine.statefulIsAuthorized(floorCall)],
  ])
}
