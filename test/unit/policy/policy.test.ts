/** The Cedar suites on Node, with the package’s nodejs build of the engine. */
import { loadNodeCedar } from '../../../src/policy/engine-node.ts'
import { definePolicyEvaluatorSuite } from '../../shared/policy-evaluator.case.ts'
import { definePolicyGatewaySuite } from '../../shared/policy-gateway.case.ts'
import { definePolicySuites } from '../../shared/policy.case.ts'

definePolicySuites({ runtime: 'Node', engine: loadNodeCedar })
definePolicyGatewaySuite({ runtime: 'Node', engine: loadNodeCedar })
definePolicyEvaluatorSuite({ runtime: 'Node', engine: loadNodeCedar })
