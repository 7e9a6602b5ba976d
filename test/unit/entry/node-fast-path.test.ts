/**
 * The Node origin really puts its fast paths in front of the app (node-fast-path.ts,
 * node-server.ts). The differential tests cannot tell: a path answers as the app does, so a path that
 * is not installed loses only speed. Here:
 *
 * - `installFastPath` on a real `node:http` server: in front of the one listener it says so and
 *   answers what it takes; beside a second listener (or none) it installs nothing and says so; a
 *   second path goes in front of the first, as node-server.ts stacks them.
 * - `startNodeServer` names the paths it installed in its `listening` line, and only those (an
 *   option off, tracing on, no minting config).
 * - The built origin process (the image's and `npm start`'s) names both.
 */
import { once } from 'node:events'
import { createServer, request, type RequestListener, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { installFastPath, type NodeFastPath } from '../../../src/entry/node-fast-path.ts'
import { startNodeServer } from '../../../src/entry/node-server.ts'
import type { LogRecord } from '../../../src/http/log.ts'
import { publicJwks, TEST_AUDIENCE, TEST_ISSUER } from '../../fixtures/keys.ts'
import { startOriginProcess } from '../../support/node-process.ts'
import { API, testConfig } from '../oauth/support.ts'

/**
 * A path that answers `GET <url>` with `name` itself and hands every other request to the app; it
 * notes its name in `trail` for every request it sees.
 */
const pathFor =
  (name: string, url: string, trail: string[] = []): NodeFastPath =>
  (incoming, outgoing, app) => {
    trail.push(name)
    return incoming.url === url ? void outgoing.end(name) : app(incoming, outgoing)
  }

const appListener: RequestListener = (_incoming, outgoing) => void outgoing.end('app')

/** The body of `GET <url>` on `server`. */
async function bodyOf(server: Server, url: string): Promise<string> {
  const { port } = server.address() as AddressInfo
  const req = request({ host: '127.0.0.1', port, path: url })
  req.end()
  const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream]
  let body = ''
  for await (const chunk of res) body += String(chunk)
  return body
}

describe('installFastPath', () => {
  const servers: Server[] = []
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  async function listening(...listeners: RequestListener[]): Promise<Server> {
    const server = createServer()
    for (const listener of listeners) server.on('request', listener)
    servers.push(server)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return server
  }

  it('puts the path in front of the one app listener and says so', async () => {
    const server = await listening(appListener)
    expect(installFastPath(server, pathFor('fast', '/fast'))).toBe(true)
    expect(server.listeners('request')).toHaveLength(1)
    expect(await bodyOf(server, '/fast')).toBe('fast')
    expect(await bodyOf(server, '/other')).toBe('app')
  })

  it('installs nothing beside a second request listener, or without one, and says so', async () => {
    const seen: string[] = []
    const second: RequestListener = (incoming) => void seen.push(String(incoming.url))
    const server = await listening(appListener, second)
    expect(installFastPath(server, pathFor('fast', '/fast'))).toBe(false)
    expect(server.listeners('request')).toEqual([appListener, second])
    expect(await bodyOf(server, '/fast')).toBe('app')
    expect(seen).toEqual(['/fast'])
    expect(installFastPath(await listening(), pathFor('fast', '/fast'))).toBe(false)
  })

  it('stacks a second path in front of the first', async () => {
    const server = await listening(appListener)
    const trail: string[] = []
    expect(installFastPath(server, pathFor('token', '/token', trail))).toBe(true)
    expect(installFastPath(server, pathFor('verify', '/verify', trail))).toBe(true)
    expect(server.listeners('request')).toHaveLength(1)
    expect(await bodyOf(server, '/other')).toBe('app')
    expect(trail.splice(0)).toEqual(['verify', 'token'])
    expect(await bodyOf(server, '/token')).toBe('token')
    expect(trail.splice(0)).toEqual(['verify', 'token'])
    expect(await bodyOf(server, '/verify')).toBe('verify')
    expect(trail.splice(0)).toEqual(['verify'])
  })
})

describe('the fast paths the origin installs', () => {
  let dir: string
  let config: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-fast-paths-'))
    config = join(dir, 'gatehouse.json')
    await writeFile(config, JSON.stringify(await testConfig()))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  /** The `fastPaths` of the `listening` line of an origin started (and stopped) on `env`. */
  async function listed(
    env: Record<string, string>,
    options: { tokenFastPath?: boolean; verifyFastPath?: boolean } = {},
  ): Promise<unknown> {
    const logs: LogRecord[] = []
    const server = await startNodeServer(
      { PORT: '0', HOST: '127.0.0.1', GATEHOUSE_LOG_LEVEL: 'info', ...env },
      { logger: { log: (r) => void logs.push(r) }, ...options },
    )
    await server.shutdown()
    return logs.find((r) => r.msg === 'listening')?.fastPaths
  }

  const minting = () => ({ GATEHOUSE_CONFIG: config, GATEHOUSE_AUDIENCE: API })

  it('lists both on a minting origin, and only the ones that run', async () => {
    expect(await listed(minting())).toEqual(['token', 'verify'])
    expect(await listed(minting(), { tokenFastPath: false })).toEqual(['verify'])
    expect(await listed(minting(), { verifyFastPath: false })).toEqual(['token'])
    // Tracing wraps every request: neither path.
    const traced = { ...minting(), OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }
    expect(await listed(traced)).toEqual([])
  })

  it('lists only /verify on a verification-only origin', async () => {
    const env = {
      GATEHOUSE_ISSUER: TEST_ISSUER,
      GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
      GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
    }
    expect(await listed(env)).toEqual(['verify'])
  })

  it('lists both in the built origin process', async () => {
    const origin = await startOriginProcess(minting())
    try {
      expect(origin.logs.find((r) => r.msg === 'listening')).toMatchObject({
        fastPaths: ['token', 'verify'],
      })
    } finally {
      expect(await origin.stop()).toBe(0)
    }
  })
})
