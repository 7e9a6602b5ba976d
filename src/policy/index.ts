/**
 * Cedar policy decisions (docs/policy.md), the public surface: the `authorize` middleware, the
 * per-tenant policy sets it reads from L2, publishing, and the request model. The engine loaders are
 * imported from their own files, one per runtime, so a bundle carries only its own:
 * `./engine-worker.ts` (Workers: the web build, its .wasm bundled) and `./engine-node.ts` (Node).
 *
 * The package does not export this module yet (`package.json` `exports`); import it by path.
 *
 * @example
 * import { authorize, createPolicySets } from './src/policy/index.ts'
 * import { loadWorkerCedar } from './src/policy/engine-worker.ts'
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
  type PublishInput,
  type PublishResult,
} from './publish.ts'
export { runPolicyTests, type PolicyTestCase, type PolicyTestRun } from './test-cases.ts'
export { mountPolicyRoutes, parsePolicyRoutes, type PolicyRouteTable } from './route-table.ts'
export type { CedarEngineLoader, CedarModule } from './engine.ts'
