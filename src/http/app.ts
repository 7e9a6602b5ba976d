/**
 * `createApp(deps)`: the one Hono app both runtimes serve (DESIGN.md, "Two runtimes, one app"). It reads
 * nothing from the environment; the entries build `deps`. Route groups: `/healthz`, `/verify`, the
 * gateway under `/api/` when configured, and whatever `deps.routes` / `deps.extend` add (the origin's
 * OAuth endpoints). Routes throw `GatehouseError`s; the one `onError` (error-response.ts) renders them.
 */
import { Hono } from 'hono'
import { DEFAULT_REALM } from './auth-response.ts'
import { createDpopGuard } from './dpop-guard.ts'
import { errorHandler } from './error-response.ts'
import { gatewayRoutes } from './gateway.ts'
import { observeRequests } from './request-observer.ts'
import { setErrorCode } from './request-record.ts'
import type { AppDeps, GatehouseEnv } from './types.ts'
import { verifyRoutes } from './verify-route.ts'

const NO_STORE = { 'Cache-Control': 'no-store' }

/**
 * Builds the app. Deps are checked here, once: a missing verifier or logger is a programming error and
 * throws a `TypeError` at start rather than a 500 on every request.
 *
 * @example
 * const app = createApp({ role: 'edge', verifier, logger: createJsonLogger() })
 * export default app
 */
export function createApp(deps: AppDeps): Hono<GatehouseEnv> {
  if (deps.role !== 'edge' && deps.role !== 'origin') {
    throw new TypeError('createApp: role must be "edge" or "origin"')
  }
  if (deps.verifier !== undefined && typeof deps.verifier.verify !== 'function')
    throw new TypeError('createApp: verifier must have verify()')
  if (deps.gateway !== undefined && deps.verifier === undefined)
    throw new TypeError('createApp: the gateway needs a verifier')
  if (typeof deps.logger?.log !== 'function') throw new TypeError('createApp: logger required')
  const realm = deps.realm ?? DEFAULT_REALM
  const dpop = deps.dpop ?? createDpopGuard()

  const onError = errorHandler(deps.logger, realm)

  const app = new Hono<GatehouseEnv>()
  for (const middleware of deps.middleware ?? []) app.use(middleware)
  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200, NO_STORE))
  if (deps.verifier !== undefined) app.route('/', verifyRoutes(deps.verifier, dpop))
  if (deps.gateway !== undefined && deps.verifier !== undefined) {
    app.route(
      '/',
      gatewayRoutes({
        ...deps.gateway,
        verifier: deps.verifier,
        dpop,
        realm,
        logger: deps.logger,
        ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
        ...(deps.now === undefined ? {} : { now: deps.now }),
        ...(deps.clientIp === undefined ? {} : { clientIp: deps.clientIp }),
      }),
    )
  }
  for (const group of deps.routes ?? []) app.route(group.path, group.app)
  deps.extend?.(app)

  app.notFound((c) => {
    setErrorCode(c, 'not_found')
    return c.json({ error: 'not_found', error_description: 'no such route' }, 404, NO_STORE)
  })
  app.onError(onError)
  // Request id, request hooks, access log: around `fetch`, not a middleware layer (request-observer.ts).
  observeRequests(app, deps.logger, {
    onError,
    ...(deps.requestHooks === undefined ? {} : { hooks: deps.requestHooks }),
  })
  return app
}
