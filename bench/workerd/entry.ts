/**
 * The Worker that `npm run bench:http` bundles and runs under plain `workerd serve`: the production app,
 * assembled from the bindings as src/entry/worker.ts does when no L2 store is configured
 * (`parseVerificationConfig` → `appFromConfig` with role `edge`; edge revocation off), plus one route
 * for the benchmark only:
 *
 *   GET /noop → 200 "ok", through the same app and middleware (request id, access log, error mapping)
 *
 * so "`/verify` with L1 hits ≥ 85% of a no-op Hono route" (DESIGN.md, Performance targets) compares
 * routes of one app in one isolate. Built once per isolate on the first request, like the real entry.
 */
import type { ExecutionContext, Hono } from 'hono'
import { parseVerificationConfig } from '../../src/core/config.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import { createJsonLogger } from '../../src/http/log.ts'
import type { GatehouseEnv } from '../../src/http/types.ts'

let app: Hono<GatehouseEnv> | undefined

async function build(env: Record<string, unknown>): Promise<Hono<GatehouseEnv>> {
  const config = parseVerificationConfig(env)
  const built = await appFromConfig(config, {
    role: 'edge',
    logger: createJsonLogger({ level: config.logLevel }),
  })
  // Hono matches middleware by path at request time, so the app's `use('*')` middleware runs here too.
  built.get('/noop', (c) => c.text('ok'))
  return built
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext) {
    // The built app, not a pending build, is kept: a promise must not be shared across requests in
    // workerd (DESIGN.md, L1). Concurrent first requests may each build once; the last one wins.
    app ??= await build(env)
    return app.fetch(request, env, ctx)
  },
}
