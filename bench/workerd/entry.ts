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
 *
 * And the same-runtime baselines of issue 15, a bare Hono app (no middleware) in the same isolate:
 *
 *   GET /bare/noop      → 200 "ok"
 *   ANY /bare/proxy/*   → `hono/proxy` forward of the rest of the path to GATEHOUSE_UPSTREAM_URL
 *
 * Every request, ours and the bare ones, pays the same one string test that picks the app.
 */
import { Hono, type ExecutionContext } from 'hono'
import { proxy } from 'hono/proxy'
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

let bare: Hono | undefined

/** The baselines: Hono as a user without our stack would write these two routes. */
function buildBare(env: Record<string, unknown>): Hono {
  const built = new Hono()
  built.get('/bare/noop', (c) => c.text('ok'))
  const upstream = env.GATEHOUSE_UPSTREAM_URL
  if (typeof upstream === 'string') {
    built.all('/bare/proxy/*', (c) =>
      proxy(new URL(c.req.path.slice('/bare/proxy'.length), upstream), { raw: c.req.raw }),
    )
  }
  return built
}

/** The path starts at the first `/` after the scheme's `//` (`https://` is 8 characters). */
const AUTHORITY_AT = 8

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext) {
    if (request.url.startsWith('/bare/', request.url.indexOf('/', AUTHORITY_AT))) {
      bare ??= buildBare(env)
      return bare.fetch(request, env, ctx)
    }
    // The built app, not a pending build, is kept: a promise must not be shared across requests in
    // workerd (DESIGN.md, L1). Concurrent first requests may each build once; the last one wins.
    app ??= await build(env)
    return app.fetch(request, env, ctx)
  },
}
