/**
 * `NodeResponseWithId` (src/entry/node-response.ts), the Node origin's `ServerResponse`, writes the
 * request id in the header object `@hono/node-server` hands to `writeHead` rather than by
 * `setHeader`: every answer carries `X-Request-Id` exactly once, a response's own id (a proxied
 * upstream's) wins, and a route's constant header object is never written into.
 */
import { serve } from '@hono/node-server'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { NodeResponseWithId } from '../../../src/entry/node-response.ts'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { RESPONSE_REQUEST_ID } from '../../../src/http/request-log.ts'

const UUID_SHAPED = /^[0-9a-f-]{36}$/
const verified: VerifiedToken = {
  header: { alg: 'ES256' },
  claims: { iss: 'i', sub: 'user-1', aud: 'a', exp: 2e9 },
}
const verifier = {
  verify: async (token: string) => {
    if (token !== 'good') throw new AuthError('signature_invalid', 'bad')
    return verified
  },
}
/** A route's constant header object, as /verify has. */
const CONSTANT = Object.freeze({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/** Starts `server` (closed after the test) and returns its base URL. */
async function listen(server: Server, listening = false): Promise<string> {
  if (!listening) server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) =>
    server.listening ? resolve() : server.once('listening', resolve),
  )
  closers.push(
    () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function upstream(respond: (res: ServerResponse) => void): Promise<string> {
  return listen(createServer((req, res) => req.resume().on('end', () => respond(res))))
}

async function served(upstreamUrl: string): Promise<string> {
  const app = createApp({
    role: 'edge',
    verifier,
    logger: silentLogger,
    gateway: { url: upstreamUrl },
    extend: (a) => {
      a.get('/plain', (c) => c.text('ok'))
      a.get('/constant', () => new Response('{}', { status: 200, headers: CONSTANT }))
      a.get('/boom', () => {
        throw new Error('boom')
      })
    },
  })
  const server = serve({
    fetch: app.fetch,
    port: 0,
    hostname: '127.0.0.1',
    serverOptions: { ServerResponse: NodeResponseWithId },
  }) as Server
  return listen(server, true)
}

/** The raw response head, to count header lines (fetch would join duplicates). */
async function rawHead(base: string, path: string, headers = ''): Promise<string> {
  const { connect } = await import('node:net')
  const { port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`),
    )
    let text = ''
    socket.on('data', (chunk) => (text += String(chunk)))
    socket.on('end', () => resolve(text.slice(0, text.indexOf('\r\n\r\n'))))
    socket.on('error', reject)
  })
}

const idLines = (head: string) => head.split('\r\n').filter((l) => /^x-request-id:/i.test(l))

describe('NodeResponseWithId under @hono/node-server', () => {
  it('puts exactly one id on every answer: helpers, constants, errors, 404s, 401s, proxied', async () => {
    const up = await upstream((res) => res.writeHead(200, { 'Content-Length': '2' }).end('up'))
    const base = await served(up)
    for (const [path, status, auth] of [
      ['/plain', 200, ''],
      ['/constant', 200, ''],
      ['/boom', 500, ''],
      ['/nothing', 404, ''],
      ['/api/x', 401, ''],
      ['/api/x', 200, 'Authorization: Bearer good\r\n'],
    ] as const) {
      const head = await rawHead(base, path, auth)
      expect(head.split(' ')[1], path).toBe(String(status))
      const lines = idLines(head)
      expect(lines, path).toHaveLength(1)
      expect(lines[0]!.slice('x-request-id: '.length), path).toMatch(UUID_SHAPED)
    }
    const echoed = await rawHead(base, '/constant', 'X-Request-Id: abc-1\r\n')
    expect(idLines(echoed)).toEqual(['X-Request-Id: abc-1'])
  })

  it("never writes into a route's constant header object: each answer has its own id", async () => {
    const base = await served('http://127.0.0.1:9/')
    const first = await fetch(`${base}/constant`)
    const second = await fetch(`${base}/constant`)
    expect(first.headers.get('X-Request-Id')).toMatch(UUID_SHAPED)
    expect(second.headers.get('X-Request-Id')).toMatch(UUID_SHAPED)
    expect(first.headers.get('X-Request-Id')).not.toBe(second.headers.get('X-Request-Id'))
    expect(first.headers.get('cache-control')).toBe('no-store')
    expect(Object.keys(CONSTANT)).toEqual(['Content-Type', 'Cache-Control'])
  })

  it("keeps an upstream's own X-Request-Id rather than sending two", async () => {
    const up = await upstream((res) =>
      res.writeHead(200, { 'x-request-id': 'from-upstream', 'Content-Length': '2' }).end('up'),
    )
    const base = await served(up)
    const head = await rawHead(base, '/api/x', 'Authorization: Bearer good\r\n')
    expect(idLines(head)).toEqual(['x-request-id: from-upstream'])
  })
})

describe('NodeResponseWithId.writeHead', () => {
  /** A plain Node server whose handler sets the id, then answers with `answer`. */
  async function raw(answer: (res: NodeResponseWithId) => void): Promise<string> {
    const server = createServer({ ServerResponse: NodeResponseWithId }, (req, res) => {
      req.resume()
      const response = res as NodeResponseWithId
      response[RESPONSE_REQUEST_ID] = 'id-1'
      answer(response)
    })
    const base = await listen(server)
    return rawHead(base, '/')
  }

  it('adds the id to a header object, a raw header array and implicit headers, once each', async () => {
    const heads = [
      await raw((res) => res.writeHead(200, { 'Content-Length': '0' }).end()),
      await raw((res) => res.writeHead(200, 'Fine', { 'Content-Length': '0' }).end()),
      await raw((res) => res.writeHead(200, ['Content-Length', '0']).end()),
      await raw((res) => res.end('implicit')),
    ]
    for (const head of heads) expect(idLines(head)).toEqual(['X-Request-Id: id-1'])
    expect(heads[1]).toMatch(/^HTTP\/1\.1 200 Fine/)
  })

  it('keeps an id the response already names, by setHeader or in its headers, in any case', async () => {
    const heads = [
      await raw((res) =>
        res.writeHead(200, { 'X-REQUEST-ID': 'own', 'Content-Length': '0' }).end(),
      ),
      await raw((res) => {
        res.setHeader('x-request-id', 'set')
        res.writeHead(200, { 'Content-Length': '0' }).end()
      }),
      await raw((res) => res.writeHead(200, ['x-request-id', 'raw', 'Content-Length', '0']).end()),
    ]
    expect(heads.map(idLines)).toEqual([
      ['X-REQUEST-ID: own'],
      ['x-request-id: set'],
      ['x-request-id: raw'],
    ])
  })
})
