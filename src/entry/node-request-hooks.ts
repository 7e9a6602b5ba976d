/**
 * The Node origin's per-request work, as `createApp` request hooks (request-observer.ts): the request
 * guard (node-http.ts) and the revocation sync's kick before the routes, Prometheus metrics after.
 * One function, so `npm start` (node-server.ts) and the benchmarks' Node servers run the same stack.
 */
import type { RevocationSync } from '../revocation/index.ts'
import type { RequestHooks } from '../http/types.ts'
import { checkNodeRequest } from './node-http.ts'
import type { Metrics } from './node-metrics.ts'

/**
 * @example appFromConfig(config, { ..., requestHooks: nodeRequestHooks(metrics, revocation) })
 */
export function nodeRequestHooks(
  metrics: Pick<Metrics, 'record'>,
  revocation?: Pick<RevocationSync, 'maybeSync'>,
): RequestHooks {
  return {
    before:
      revocation === undefined
        ? checkNodeRequest
        : (request, env) => {
            checkNodeRequest(request, env)
            // Reads new revocation events at most every GATEHOUSE_REVOCATION_SYNC_SECONDS.
            revocation.maybeSync()
          },
    after: metrics.record,
  }
}
