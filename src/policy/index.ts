/**
 * `@gatehouse/auth/policy`: Cedar policy decisions (docs/policy.md), the public surface: the
 * `authorize` middleware, the per-tenant policy sets it reads from L2, publishing, and the request
 * model. No engine here: the engine loaders are their own subpaths, one per runtime, so a bundle
 * carries only its own and a bundle without them carries no WebAssembly:
 * `@gatehouse/auth/policy/worker` (engine-worker.ts: the web build, its .wasm bundled by wrangler)
 * and `@gatehouse/auth/policy/node` (engine-node.ts).
 *
 * @example
 * import { authorize, createPolicySets } from '@gatehouse/auth/policy'
 * import { loadWorkerCedar } from '@gatehouse/auth/policy/worker'
 * const policySets = createPolicySets({ store, engine: loadWorkerCedar })
 * app.get('/documents/:id', requireAuth(opts), authorize({ policySets, resource: { type: 'Document', param: 'id' } }), handler)
 */
export {
  authorize,
  type AuthorizeEnv,
  type AuthorizeOptions,
  type ResourceOption,
} from './authorize.ts'
export {
  createPolicySets,
  type PolicySets,
  type PolicySetsOptions,
  type PolicySetState,
} from './policy-sets.ts'
export { decide, type Decision } from './decide.ts'
export { buildCedarRequest, type CedarRequest, type RequestFacts } from './request.ts'
export { createDecisionCache, type DecisionCache } from './decision-cache.ts'
export { preparePolicySet, type PolicyFile, type PolicyProblem } from './prepare.ts'
export {
  publishPolicySet,
  readPolicyHead,
  readPolicySet,
  PolicyStoreError,
  type PolicyStore,
  type PublishInput,
  type PublishResult,
} from './publish.ts'
export { runPolicyTests, type PolicyTestCase, type PolicyTestRun } from './test-cases.ts'
export { mountPolicyRoutes, parsePolicyRoutes, type PolicyRouteTable } from './route-table.ts'
export type { CedarEngineLoader, CedarModule } from './engine.ts'
