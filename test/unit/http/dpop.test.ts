/** The DPoP suite (test/shared/dpop.case.ts) on Node: in-process and through a real server. */
import { serve } from '@hono/node-server'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe } from 'vitest'
import { defineDpopSuite, type DpopHarness } from '../../shared/dpop.case.ts'

const inProcess: DpopHarness = {
  serve: async (app) => ({
    base: 'http://gatehouse.test',
    fetch: async (path, init) => app.request(`http://gatehouse.test${path}`, init),
    close: async () => {},
  }),
}

/**
 * Each app on its own port, all under one public name, as isolates behind one hostname are: the
 * server hands the app the request with the public origin (a load balancer's view of the URL).
 */
const PUBLIC = 'http://gatehouse.test'
const realServer: DpopHarness = {
  serve: async (app) => {
    const asPublic = (request: Request): Response | Promise<Response> => {
      const url = new URL(request.url)
      const body = request.method === 'GET' || request.method === 'HEAD' ? null : request.body
      return app.fetch(
        new Request(`${PUBLIC}${url.pathname}${url.search}`, {
          method: request.method,
          headers: request.headers,
          body,
          ...(body === null ? {} : { duplex: 'half' }),
        } as RequestInit),
      )
    }
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: asPublic, port: 0, hostname: '127.0.0.1' }, () =>
        resolve(s as Server),
      ) as Server
    })
    const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return {
      base: PUBLIC,
      fetch: (path, init) => fetch(`${local}${path}`, init),
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    }
  },
}

describe('DPoP in-process (app.request)', () => defineDpopSuite(inProcess))
describe('DPoP through a real @hono/node-server', () => defineDpopSuite(realServer))
