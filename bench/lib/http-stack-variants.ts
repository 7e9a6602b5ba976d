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
import { errorHandler } from '../../src/http/error-response.ts'
import { observeRequests } from '../../src/http/request-observer.ts'
import type { GatehouseEnv } from '../../src/http/types.ts'

async function build(stack: string): Promise<Hono<GatehouseEnv>> {
  const app = new Hono<GatehouseEnv>()
  switch (stack) {
    case 'bare':
      break
    case 'one-async-layer':
      app.use(async (_c, next) => {
        await next()
      })
      break
    case 'observer-nolog':
    case 'observer': {
      const logger = createNodeLogger(stack === 'observer' ? 'info' : 'warn')
      const onError = errorHandler(logger, 'gatehouse')
      app.onError(onError)
      observeRequests(app, logger, { onError })
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

const app = await build(process.env.STACK ?? 'bare')
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(JSON.stringify({ listening: (info as AddressInfo).port }))
})
process.once('SIGTERM', () => server.close(() => process.exit(0)))
