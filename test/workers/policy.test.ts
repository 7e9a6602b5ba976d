/**
 * The Cedar suites inside workerd, with the package's web build instantiated by `initSync` from the
 * .wasm bundled as a compiled module, as the Worker does.
 */
import { loadWorkerCedar } from '../../src/policy/engine-worker.ts'
import { definePolicyEvaluatorSuite } from '../shared/policy-evaluator.case.ts'
import { definePolicyGatewaySuite } from '../shared/policy-gateway.case.ts'
import { definePolicySuites } from '../shared/policy.case.ts'

definePolicySuites({ runtime: 'workerd', engine: loadWorkerCedar })
definePolicyGatewaySuite({ runtime: 'workerd', engine: loadWorkerCedar })
definePolicyEvaluatorSuite({ runtime: 'workerd', engine: loadWorkerCedar })
