/** Node-side harnesses for the shared route suite: in-process, a real server, a real upstream. */
import { serve } from '@hono/node-server'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RouteHarness, Upstream, UpstreamRequest } from '../../shared/routes.case.ts'
import { UPSTREAM_RESPONSE } from '../../shared/routes.case.ts'

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

/** A real local HTTP server that records each request and answers 201. */
export async function localUpstream(): Promise<Upstream> {
  const requests: UpstreamRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) headers[k] = String(v)
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers,
        body: Buffer.concat(chunks).toString(),
      })
      res.writeHead(UPSTREAM_RESPONSE.status, {
        [UPSTREAM_RESPONSE.header[0]!]: UPSTREAM_RESPONSE.header[1],
      })
      res.end(UPSTREAM_RESPONSE.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server) }
}

export const inProcess: RouteHarness = {
  serve: async (app) => ({
    fetch: async (path, init) => app.request(path, init),
    close: async () => {},
  }),
  upstream: localUpstream,
}

export const realServer: RouteHarness = {
  serve: async (app) => {
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
        resolve(s as Server),
      ) as Server
    })
    const { port } = server.address() as AddressInfo
    return {
      fetch: (path, init) => fetch(`http://127.0.0.1:${port}${path}`, init),
      close: () => closeServer(server),
    }
  },
  upstream: localUpstream,
}
