/**
 * The edge, as its own Node process, for chaos, soak and tracing tests: the Worker's code path
 * (src/entry/worker.ts) — `parseVerificationConfig(env)`, the Upstash store, the per-isolate revocation
 * sync started from requests with its work handed to a `waitUntil`, tracing from the OTEL_* variables,
 * `appFromConfig(config, { role: 'edge' })` with the origin proxy and its circuit breaker — served by
 * @hono/node-server. Two differences from workerd, both outside the code under test: the filter's
 * WebAssembly comes from load-node.ts (workerd imports the module, Node reads the file), and
 * `waitUntil` is "let it run" (a Node process does not freeze between requests).
 *
 * Chosen over `wrangler dev` because the chaos suite restarts and re-points processes many times and
 * must stay fast on two cores: this starts in well under a second, wrangler dev in several.
 *
 * Run: `node --experimental-strip-types test/support/edge-process.ts` with the GATEHOUSE_* variables;
 * prints one JSON line `{"msg":"listening","port":N}`, then JSON request logs.
 */
import { serve } from '@hono/node-server'
import type { ExecutionContext } from 'hono'
import { parseVerificationConfig } from '../../src/core/config.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import { createJsonLogger } from '../../src/http/log.ts'
import { tracingFromEnv } from '../../src/http/tracing.ts'
import { createRevocationSync } from '../../src/revocation/index.ts'
import { createUpstashStore } from '../../src/store/upstash.ts'
import { loadSbbfBackend } from '../../src/wasm/load-node.ts'

const env = process.env as Record<string, unknown>
const config = parseVerificationConfig(env)
const logger = createJsonLogger({ level: config.logLevel })
const store = config.upstash && createUpstashStore(config.upstash)
const revocation = store
  ? createRevocationSync({
      store,
      backend: loadSbbfBackend(),
      syncSeconds: config.revocation.syncSeconds,
      syncTimeoutMs: config.revocation.syncTimeoutMs,
      maxStalenessSeconds: config.revocation.maxStalenessSeconds,
      policy: config.revocation.policy,
      logger,
    })
  : undefined
const tracing = tracingFromEnv(env, { role: 'edge', logger })
const app = await appFromConfig(config, {
  role: 'edge',
  logger,
  ...(tracing ? { middleware: [tracing.middleware] } : {}),
  ...(store && revocation ? { revocation: { sync: revocation, store } } : {}),
  ...(store ? { keyStore: store } : {}),
})

const ctx: ExecutionContext = {
  waitUntil: (promise) => void Promise.resolve(promise).catch(() => {}),
  passThroughOnException: () => {},
  props: {},
}
const server = serve(
  {
    fetch: (request: Request) => {
      revocation?.maybeSync((p) => ctx.waitUntil(p))
      return app.fetch(request, {}, ctx)
    },
    port: config.port,
    hostname: config.host ?? '127.0.0.1',
  },
  (info) => console.log(JSON.stringify({ level: 'info', msg: 'listening', port: info.port })),
)
const stop = (): void => {
  server.close()
  void Promise.resolve(tracing?.flush()).finally(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
