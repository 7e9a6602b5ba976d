/**
 * The Worker entry with the Cedar engine: src/entry/worker.ts plus `@cedar-policy/cedar-wasm`'s web
 * build, for deployments that decide gateway routes with policies (GATEHOUSE_POLICY_ROUTES). Point
 * wrangler.toml's `main` here. The engine is instantiated on the first decision; its .wasm is
 * compiled when workerd loads the Worker (docs/policy.md, "Cost at the edge").
 */
import { loadWorkerCedar } from '../policy/engine-worker.ts'
import { withPolicyEngine } from './worker.ts'

export default withPolicyEngine(loadWorkerCedar)
