import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'
import { publicJwks } from '../fixtures/keys.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A loopback URL serving the test keys' public JWKS, for the Worker's GATEHOUSE_JWKS_URL form. */
    jwksUrl: string
  }
}

/**
 * vitest globalSetup of the `workers` project: the issuer's JWKS endpoint on loopback, served from
 * Node (workerd cannot listen inside a test), so the Worker is tested with the remote key-set form too.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const body = JSON.stringify(publicJwks())
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json')
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  project.provide('jwksUrl', `http://127.0.0.1:${port}/.well-known/jwks.json`)
  return () => new Promise<void>((resolve) => server.close(() => resolve()))
}
