/**
 * The demo API behind the edge gateway in `npm run dev`: it answers every request with the identity the
 * gateway forwarded in `X-Gatehouse-*` headers, plus a document (`GET /documents/:id`) and a report
 * (`GET /admin/report`) that the edge guards with Cedar policies (examples/policies/): the demo user
 * may read the document and is denied the report, which therefore never reaches this server.
 *
 * It trusts those headers only because it listens on loopback and is reached through the gateway,
 * which strips any the caller sent (gateway.ts). A real upstream must likewise accept traffic only
 * from the gateway.
 */
import { createServer, type Server } from 'node:http'
import { listenLocal } from './dev-ports.ts'

export interface DemoApi {
  url: string
  close(): Promise<void>
}

/**
 * @example const api = await startDemoApi({ port: 8790 }) // GET /hello → { message, subject, ... }
 */
export async function startDemoApi(options: { port: number; host?: string }): Promise<DemoApi> {
  const host = options.host ?? '127.0.0.1'
  const server: Server = createServer((req, res) => {
    const header = (name: string): string | null => {
      const value = req.headers[name]
      return typeof value === 'string' ? value : null
    }
    const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname
    const document = /^\/documents\/([\w-]{1,64})$/.exec(path)?.[1]
    const body = JSON.stringify({
      message: document
        ? `Document "${document}": the edge's Cedar policy let you read it.`
        : path === '/admin/report'
          ? 'The admin report: the edge let an admin on a private network through.'
          : 'Hello from the demo API, reached through the Gatehouse edge.',
      subject: header('x-gatehouse-subject'),
      clientId: header('x-gatehouse-client-id'),
      scope: header('x-gatehouse-scope'),
      method: req.method,
      path: req.url,
      requestId: header('x-request-id'),
    })
    req.resume()
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body),
    })
    res.end(body)
  })
  return listenLocal(server, host, options.port)
}
