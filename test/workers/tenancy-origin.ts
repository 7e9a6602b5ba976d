import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A loopback origin that answers every request with what reached it (tenancy-worker.test.ts). */
    tenancyEchoOrigin: string
  }
}

/** What the echo origin saw of a forwarded request. */
export interface EchoedRequest {
  method: string
  path: string
  forwardedHost: string | null
  body: string
}

/**
 * vitest globalSetup of the `workers` project: an origin on loopback (workerd cannot listen inside
 * a test) that answers each request with its method, path, `X-Forwarded-Host` and body, so the
 * tenancy tests see what the Worker forwarded for a custom-host tenant, and where.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const seen: EchoedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        forwardedHost: (req.headers['x-forwarded-host'] as string | undefined) ?? null,
        body,
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(seen))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  project.provide('tenancyEchoOrigin', `http://127.0.0.1:${port}`)
  return () => new Promise<void>((resolve) => server.close(() => resolve()))
}
