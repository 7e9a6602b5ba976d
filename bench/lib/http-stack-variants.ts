/**
 * One `/noop` server per request-stack variant for bench/stack-cost.ts, chosen by `STACK` (see that
 * file for the list). The production variant is the bench's Node origin stack (http-node-origin.ts)
 * without the gateway. Listens on 127.0.0.1:0 and prints `{"listening":<port>}`.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { parseVerificationConfig } from '../../src/core/config.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import { createNodeLogger } from '../../src/entry/node-log-sink.ts'
import { createMetrics } from '../../src/entry/node-metrics.ts'
import { nodeRequestHooks } from '../../src/entry/node-request-hooks.ts'
import { NodeResponseWithId } from '../../src/entry/node-response.ts'
import { errorHandler } from '../../src/http/error-response.ts'
import { newRequestId } from '../../src/http/request-id.ts'
import { withRequestId } from '../../src/http/request-log.ts'
import { observeRequests } from '../../src/http/request-observer.ts'
import type { GatehouseEnv } from '../../src/http/types.ts'

async function build(stack: string): Promise<Hono<GatehouseEnv>> {
  const app = new Hono<GatehouseEnv>()
  switch (stack) {
    case 'bare':
      break
    case 'bare-id':
      // Bare, plus only what a request id puts on the wire: a new id in X-Request-Id.
      return withIdOnly(app)
    case 'one-async-layer':
      app.use(async (_c, next) => {
        await next()
      })
      break
    case 'observer-nolog':
    case 'observer':
    case 'observer-hooks': {
      const logger = createNodeLogger(stack === 'observer-nolog' ? 'warn' : 'info')
      const onError = errorHandler(logger, 'gatehouse')
      app.onError(onError)
      observeRequests(app, logger, {
        onError,
        ...(stack === 'observer-hooks' ? { hooks: nodeRequestHooks(createMetrics()) } : {}),
      })
      break
    }
    case 'production': {
      const config = parseVerificationConfig({ ...process.env, GATEHOUSE_LOG_LEVEL: 'info' })
      const metrics = createMetrics()
      const production = await appFromConfig(config, {
        role: 'origin',
        logger: createNodeLogger(config.logLevel),
        requestHooks: nodeRequestHooks(metrics),
        routes: [{ path: '/', app: metrics.routes }],
      })
      production.get('/noop', (c) => c.text('ok'))
      return production
    }
    default:
      throw new Error(`unknown STACK ${stack}`)
  }
  app.get('/noop', (c) => c.text('ok'))
  return app
}

/** `app` whose every answer carries a new request id (as `withRequestId` hands it over on Node). */
function withIdOnly(app: Hono<GatehouseEnv>): Hono<GatehouseEnv> {
  app.get('/noop', (c) => c.text('ok'))
  const dispatch = app.fetch
  app.fetch = (request, env, executionCtx) => {
    const answer = dispatch(request, env, executionCtx) as Response
    return withRequestId(answer, newRequestId(), env)
  }
  return app
}

const stack = process.env.STACK ?? 'bare'
const app = await build(stack)
// Our stacks are served as node-server.ts serves them: with the response class that writes
// X-Request-Id itself (without it the id goes on by `setHeader`, Node's slow `writeHead` path).
const ours = stack !== 'bare' && stack !== 'one-async-layer'
const server = serve(
  {
    fetch: app.fetch,
    port: 0,
    hostname: '127.0.0.1',
    ...(ours ? { serverOptions: { ServerResponse: NodeResponseWithId } } : {}),
  },
  (info) => {
    console.log(JSON.stringify({ listening: (info as AddressInfo).port }))
  },
)
process.once('SIGTERM', () => server.close(() => process.exit(0)))
