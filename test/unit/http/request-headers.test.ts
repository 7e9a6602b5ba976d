/**
 * `requestHeader` (src/http/request-headers.ts) reads a header from Node's parsed fields when the
 * request's record has them, and must answer exactly what `request.headers.get` answers: repeated
 * fields joined in order, any case of the name, null when absent. `/verify` reads `Authorization`
 * through it, so two `Authorization` fields stay a malformed request over a real server too.
 */
import { serve } from '@hono/node-server'
import type { Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { requestHeader, requestHeaderFields } from '../../../src/http/request-headers.ts'
import { recordOf } from '../../../src/http/request-record.ts'

const NAMES = ['authorization', 'x-original-url', 'content-type', 'x-absent'] as const
const FIELD_NAMES = ['cookie', 'set-cookie', 'x-b', 'accept', 'x-absent'] as const

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

function app() {
  return createApp({
    role: 'edge',
    verifier: { verify: () => Promise.reject(new Error('unused')) },
    logger: silentLogger,
    extend: (a) =>
      a
        .get('/h', (c) =>
          c.json({
            fromRecord: recordOf(c.req.raw)?.rawHeaders !== undefined,
            ours: NAMES.map((name) => requestHeader(c.req.raw, name)),
            fetch: NAMES.map((name) => c.req.raw.headers.get(name)),
          }),
        )
        .get('/fields', (c) => {
          const fields = requestHeaderFields(c.req.raw)
          const headers = c.req.raw.headers
          return c.json({
            fromRecord: !(fields instanceof Headers),
            ours: {
              entries: [...fields],
              get: FIELD_NAMES.map((n) => [fields.get(n), fields.has(n)]),
            },
            fetch: {
              entries: [...headers],
              get: FIELD_NAMES.map((n) => [headers.get(n), headers.has(n)]),
            },
          })
        }),
  })
}

async function overNode(): Promise<number> {
  const server = serve({ fetch: app().fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await new Promise<void>((resolve) => server.once('listening', resolve))
  closers.push(
    () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  )
  return (server.address() as AddressInfo).port
}

/** One request with raw header lines (fetch would join or refuse repeated fields itself). */
function rawRequest(
  port: number,
  path: string,
  lines: string[],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`,
      ),
    )
    let text = ''
    socket.on('data', (chunk) => (text += String(chunk)))
    socket.on('end', () =>
      resolve({
        status: Number(text.split(' ')[1]),
        body: text.slice(text.indexOf('\r\n\r\n') + 4),
      }),
    )
    socket.on('error', reject)
  })
}

const SHAPES: string[][] = [
  [],
  ['Authorization: Bearer abc'],
  ['authorization: Bearer abc', 'AUTHORIZATION: Bearer def'],
  ['X-Original-URL: https://a.example/x', 'Content-Type: text/plain', 'x-original-url: https://b/'],
  ['Content-Type:   application/x-www-form-urlencoded  ', 'X-Original-Url:'],
]

describe('requestHeader', () => {
  it('answers what request.headers.get answers, from Node’s parsed fields', async () => {
    const port = await overNode()
    for (const lines of SHAPES) {
      const { status, body } = await rawRequest(port, '/h', lines)
      expect(status).toBe(200)
      const seen = JSON.parse(body) as { fromRecord: boolean; ours: unknown[]; fetch: unknown[] }
      expect(seen.fromRecord).toBe(true)
      expect(seen.ours, lines.join(' | ')).toEqual(seen.fetch)
    }
    const joined = JSON.parse((await rawRequest(port, '/h', SHAPES[2]!)).body) as {
      ours: unknown[]
    }
    expect(joined.ours[0]).toBe('Bearer abc, Bearer def')
  })

  it('reads the Request’s own headers where there is no parsed request (in process)', async () => {
    const res = await app().request('/h', { headers: { Authorization: 'Bearer abc' } })
    const seen = (await res.json()) as { fromRecord: boolean; ours: unknown[]; fetch: unknown[] }
    expect(seen.fromRecord).toBe(false)
    expect(seen.ours).toEqual(['Bearer abc', null, null, null])
  })

  it('keeps two Authorization fields a malformed /verify request over a real server', async () => {
    const port = await overNode()
    const twice = await rawRequest(port, '/verify', [
      'Authorization: Bearer abc',
      'Authorization: Bearer def',
    ])
    expect(twice.status).toBe(400)
    expect(JSON.parse(twice.body)).toMatchObject({ error: 'invalid_request' })
  })
})

describe('requestHeaderFields', () => {
  it('iterates and answers get/has as the request’s Headers do, from Node’s parsed fields', async () => {
    const port = await overNode()
    const shapes: string[][] = [
      [],
      ['X-B: 2', 'accept: */*', 'X-a: 1', 'x-b: 3'],
      ['Cookie: a=1', 'User-Agent: t', 'cookie: b=2', 'Set-Cookie: s=1', 'set-cookie: s=2'],
      ['Accept:   text/plain  ', 'X-Empty:', 'Zeta: z', 'alpha: a', 'X-B: x, y'],
    ]
    for (const lines of shapes) {
      const { status, body } = await rawRequest(port, '/fields', lines)
      expect(status).toBe(200)
      const seen = JSON.parse(body) as { fromRecord: boolean; ours: unknown; fetch: unknown }
      expect(seen.fromRecord).toBe(true)
      expect(seen.ours, lines.join(' | ')).toEqual(seen.fetch)
    }
    const cookies = JSON.parse((await rawRequest(port, '/fields', shapes[2]!)).body) as {
      ours: { get: [string | null, boolean][] }
    }
    expect(cookies.ours.get[0]).toEqual(['a=1; b=2', true])
  })

  it('is the Request’s own Headers where there is no parsed request (in process)', async () => {
    const res = await app().request('/fields', { headers: { 'X-B': '1' } })
    const seen = (await res.json()) as { fromRecord: boolean }
    expect(seen.fromRecord).toBe(false)
  })
})
