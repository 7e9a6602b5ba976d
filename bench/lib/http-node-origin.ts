/**
 * A server process for `npm run bench:http`: the production verification app on Node, assembled from
 * the environment as `npm start` does without `GATEHOUSE_CONFIG` or an L2 store
 * (`parseVerificationConfig` → `appFromConfig` with role `origin` and the same signature check as
 * `npm start`; revocation checks off), with the production middleware of src/entry/node-server.ts
 * (request guard and Prometheus metrics as request hooks; request id and access log come with every app) and its
 * `/metrics`, on `@hono/node-server`, plus one bench-only route:
 *
 *   GET /noop → 200 "ok", through the same app and middleware
 *
 * so `/verify` is compared with a no-op route of the same app in the same process. Listens on
 * 127.0.0.1 (port from PORT, 0 for any) and prints one JSON line `{"listening":<port>}` when ready.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { parseVerificationConfig } from '../../src/core/config.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import { createNodeLogger } from '../../src/entry/node-log-sink.ts'
import { applyHeapGrowthPolicy } from '../../src/entry/node-heap.ts'
import { createMetrics } from '../../src/entry/node-metrics.ts'
import { nodeRequestHooks } from '../../src/entry/node-request-hooks.ts'
import { NodeResponseWithId } from '../../src/entry/node-response.ts'
import { preferredSignatureCheck } from '../../src/entry/node-signature.ts'

// As `npm start` does (src/entry/node.ts): the heap growth policy first.
applyHeapGrowthPolicy()
const config = parseVerificationConfig(process.env)
const checkSignature = preferredSignatureCheck()
const metrics = createMetrics()
const app = await appFromConfig(config, {
  role: 'origin',
  logger: createNodeLogger(config.logLevel),
  // The same choice as `npm start` (src/entry/node-signature.ts).
  ...(checkSignature ? { checkSignature } : {}),
  // The same stack as `npm start` (node-server.ts) without tracing, which is off unless configured,
  // and without the revocation sync's kick (no L2 store here, as in node-server.ts without one).
  requestHooks: nodeRequestHooks(metrics),
  routes: [{ path: '/', app: metrics.routes }],
})
// Hono matches middleware by path at request time, so the app's `use('*')` middleware runs here too.
app.get('/noop', (c) => c.text('ok'))

// As node-server.ts serves: the response class that writes X-Request-Id itself.
const server = serve(
  {
    fetch: app.fetch,
    port: config.port,
    hostname: '127.0.0.1',
    serverOptions: { ServerResponse: NodeResponseWithId },
  },
  (info) => {
    console.log(JSON.stringify({ listening: (info as AddressInfo).port }))
  },
)
process.once('SIGTERM', () => server.close(() => process.exit(0)))
