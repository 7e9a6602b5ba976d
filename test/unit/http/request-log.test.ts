import { serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import type { VerifiedToken } from '../../../src/core/types.ts'
import { createApp } from '../../../src/http/app.ts'
import {
  createJsonLogger,
  logEnabled,
  silentLogger,
  type LogRecord,
  type Logger,
} from '../../../src/http/log.ts'
import { RequestError } from '../../../src/http/request-errors.ts'
import { jsonString, millisecondsJson } from '../../../src/http/request-log.ts'
import type { GatehouseEnv } from '../../../src/http/types.ts'

const verified: VerifiedToken = {
  header: { alg: 'ES256' },
  claims: { iss: 'i', sub: 'user-1', aud: 'a', exp: 2e9, scope: 'read', client_id: 'spa' },
}
const verifier = {
  verify: async (token: string) => {
    if (token !== 'good') throw new AuthError('signature_invalid', 'bad')
    return verified
  },
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

function listen(server: Server): Promise<number> {
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  )
}

/** The app on a real @hono/node-server; returns its base URL. */
async function overNode(app: Hono<GatehouseEnv>): Promise<string> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await new Promise<void>((resolve) => server.once('listening', resolve))
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** An upstream answering with what `respond` writes. */
async function upstream(respond: (res: ServerResponse) => void): Promise<string> {
  const port = await listen(createServer((req, res) => req.resume().on('end', () => respond(res))))
  return `http://127.0.0.1:${port}`
}

function appWith(options: { logger?: Logger; upstreamUrl?: string } = {}) {
  return createApp({
    role: 'edge',
    verifier,
    logger: options.logger ?? silentLogger,
    ...(options.upstreamUrl === undefined ? {} : { gateway: { url: options.upstreamUrl } }),
    extend: (app) => {
      app.get('/plain', (c) => c.text('ok'))
      app.get('/raw', () => new Response('raw', { status: 202 }))
      app.get('/boom', () => {
        throw new Error('boom')
      })
    },
  })
}

describe('Logger level check', () => {
  it('createJsonLogger answers enabled() by its level; silentLogger wants nothing', () => {
    const logger = createJsonLogger({ level: 'warn', write: () => {} })
    expect(logEnabled(logger, 'info')).toBe(false)
    expect(logEnabled(logger, 'warn')).toBe(true)
    expect(logEnabled(logger, 'error')).toBe(true)
    expect(logEnabled(silentLogger, 'error')).toBe(false)
  })

  it('a logger without enabled() is asked for every record', () => {
    expect(logEnabled({ log() {} }, 'debug')).toBe(true)
  })
})

describe('access log', () => {
  it('builds no record for a level the logger does not want, and still logs a 5xx', async () => {
    const records: LogRecord[] = []
    const asked: string[] = []
    const logger: Logger = {
      log: (r) => void records.push(r),
      enabled: (level) => {
        asked.push(level)
        return level === 'error'
      },
    }
    const app = appWith({ logger })
    expect((await app.request('/plain')).status).toBe(200)
    expect((await app.request('/verify', { method: 'POST' })).status).toBe(401)
    expect(records).toEqual([])
    expect(asked).toEqual(['info', 'info'])
    const res = await app.request('/boom', { headers: { 'X-Request-Id': 'r-9' } })
    expect(res.status).toBe(500)
    expect(records).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'request', requestId: 'r-9', status: 500 }),
    )
  })

  it('writes the same line as before at info level', async () => {
    const lines: string[] = []
    const app = appWith({ logger: createJsonLogger({ write: (l) => lines.push(l), now: () => 0 }) })
    await app.request('/verify?x=1', { method: 'POST', headers: { 'X-Request-Id': 'r-1' } })
    const line = JSON.parse(lines[0]!) as Record<string, unknown>
    expect(Object.keys(line)).toEqual([
      'time',
      'level',
      'msg',
      'requestId',
      'method',
      'path',
      'status',
      'durationMs',
      'error',
    ])
    expect(line).toMatchObject({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'request',
      requestId: 'r-1',
      method: 'POST',
      path: '/verify',
      status: 401,
      error: 'token_missing',
    })
  })
})

describe('access log line', () => {
  it('writes durationMs as JSON of the duration rounded to the microsecond, from integers', () => {
    const reference = (ms: number) => JSON.stringify(Math.round(ms * 1000) / 1000)
    for (const ms of [
      0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 0.12, 0.102, 0.0999, 1, 2.5, 123.456, 9e6,
    ])
      expect(millisecondsJson(ms)).toBe(reference(ms))
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e7, noNaN: true }), (ms) => {
        expect(millisecondsJson(ms)).toBe(reference(ms))
      }),
      { numRuns: 5000 },
    )
  })

  it('quotes a string exactly as JSON.stringify does, plain or not', () => {
    for (const text of [
      '',
      '/verify',
      '/a b',
      '/a"b',
      '/a\\b',
      '/x\n',
      '/\u007f',
      '/é',
      '/\u2028',
      '\ud800',
    ])
      expect(jsonString(text)).toBe(JSON.stringify(text))
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        expect(jsonString(text)).toBe(JSON.stringify(text))
      }),
      { numRuns: 5000 },
    )
  })

  it('formats time exactly as toISOString, also across seconds and for fractional clocks', () => {
    for (const ms of [0, 9, 10, 99, 100, 999, 1000, 1_700_000_000_123, 1_700_000_001_007, 5.7]) {
      const lines: string[] = []
      const logger = createJsonLogger({ write: (l) => lines.push(l), now: () => ms })
      logger.log({ level: 'info', msg: 'a' })
      logger.logMembers?.('info', '"level":"info","msg":"b"')
      for (const line of lines) {
        expect((JSON.parse(line) as { time: string }).time).toBe(
          new Date(Math.floor(ms)).toISOString(),
        )
      }
    }
  })

  it('escapes hostile paths, redacts token-shaped ones, and gives a plain logger the same record', async () => {
    const lines: string[] = []
    const records: LogRecord[] = []
    const jsonApp = appWith({ logger: createJsonLogger({ write: (l) => lines.push(l) }) })
    const plainApp = appWith({ logger: { log: (r) => void records.push(r) } })
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ'
    for (const app of [jsonApp, plainApp]) {
      await app.request('/a%22b%5Cc%0A\u2028', { headers: { 'X-Request-Id': 'r-2' } })
      await app.request(`/x/${token}`, { method: 'PROPFIND', headers: { 'X-Request-Id': 'r-3' } })
      // Method tokens that are names on Object.prototype are logged as the strings they are.
      await app.request('/m', { method: 'constructor', headers: { 'X-Request-Id': 'r-4' } })
      await app.request('/m', { method: '__proto__', headers: { 'X-Request-Id': 'r-5' } })
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(parsed.map(({ time: _t, durationMs: _d, ...rest }) => rest)).toEqual(
      records.map(({ durationMs: _d, ...rest }) => rest),
    )
    expect(records[0]).toMatchObject({ requestId: 'r-2', status: 404, error: 'not_found' })
    // The path Hono decoded, quote, backslash and newline included, escaped into one line.
    expect(records[0]!.path).toMatch(/^\/a"b\\c\n/)
    expect(lines.every((l) => !l.includes('\n'))).toBe(true)
    expect(records[1]).toMatchObject({ method: 'PROPFIND', path: '/x/[redacted]', status: 404 })
    expect(records[2]).toMatchObject({ method: 'constructor', requestId: 'r-4' })
    expect(records[3]).toMatchObject({ method: '__proto__', requestId: 'r-5' })
    expect(parsed.map((line) => line.method)).toEqual([
      'GET',
      'PROPFIND',
      'constructor',
      '__proto__',
    ])
    expect(lines.join('\n')).not.toContain(token.split('.')[1])
    expect(typeof records[0]!.durationMs).toBe('number')
  })

  it("answers a before hook's refusal through onError, with the request id, logged and seen by after", async () => {
    const records: LogRecord[] = []
    const seen: [number, number][] = []
    const app = createApp({
      role: 'edge',
      verifier,
      logger: { log: (r) => void records.push(r) },
      requestHooks: {
        before: (request) => {
          if (new URL(request.url).pathname === '/refused')
            throw new RequestError('request_malformed', 'no')
        },
        after: (answered, seconds) => void seen.push([answered.status, seconds]),
      },
      extend: (a) => a.get('/plain', (c) => c.text('ok')),
    })
    const refused = await app.request('/refused', { headers: { 'X-Request-Id': 'r-4' } })
    expect(refused.status).toBe(400)
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' })
    expect(refused.headers.get('X-Request-Id')).toBe('r-4')
    expect((await app.request('/plain')).status).toBe(200)
    expect(records.filter((r) => r.msg === 'request')).toEqual([
      expect.objectContaining({ requestId: 'r-4', status: 400, error: 'request_malformed' }),
      expect.objectContaining({ path: '/plain', status: 200 }),
    ])
    expect(seen.map(([status]) => status)).toEqual([400, 200])
    expect(seen.every(([, seconds]) => seconds >= 0 && seconds < 60)).toBe(true)
  })
})

describe('X-Request-Id over @hono/node-server', () => {
  it('is on every response exactly once: Hono helpers, raw responses, errors, 401s, proxied', async () => {
    const up = await upstream((res) => res.writeHead(200, { 'Content-Length': '2' }).end('up'))
    const base = await overNode(appWith({ upstreamUrl: up }))
    for (const [path, status, init] of [
      ['/plain', 200, {}],
      ['/raw', 202, {}],
      ['/boom', 500, {}],
      ['/nothing', 404, {}],
      ['/api/x', 401, {}],
      ['/api/x', 200, { headers: { Authorization: 'Bearer good' } }],
    ] as const) {
      const res = await fetch(base + path, init)
      await res.arrayBuffer()
      expect(res.status, path).toBe(status)
      expect(res.headers.get('X-Request-Id'), path).toMatch(/^[0-9a-f-]{36}$/)
    }
    const echoed = await fetch(`${base}/raw`, { headers: { 'X-Request-Id': 'abc-1' } })
    expect(echoed.headers.get('X-Request-Id')).toBe('abc-1')
    // Node joins repeated headers with ", ": not a sane id, so a new one is made.
    const repeated = await fetch(`${base}/plain`, {
      headers: [
        ['X-Request-Id', 'abc-1'],
        ['X-Request-Id', 'abc-2'],
      ],
    })
    expect(repeated.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("keeps an upstream's own X-Request-Id rather than sending two", async () => {
    const up = await upstream((res) =>
      res.writeHead(200, { 'X-Request-Id': 'from-upstream', 'Content-Length': '2' }).end('up'),
    )
    const base = await overNode(appWith({ upstreamUrl: up }))
    const res = await fetch(`${base}/api/x`, { headers: { Authorization: 'Bearer good' } })
    expect(res.headers.get('X-Request-Id')).toBe('from-upstream')
  })
})

describe('gateway responses', () => {
  const get = (base: string, init: RequestInit = {}) =>
    fetch(`${base}/api/x`, { ...init, headers: { Authorization: 'Bearer good' } })

  it('passes small (buffered) and large (streamed) bodies through intact', async () => {
    const large = 'x'.repeat(200_000)
    const up = await upstream((res) => {
      res.writeHead(200, { 'Content-Length': String(large.length), 'X-Kept': 'yes' })
      res.end(large)
    })
    const base = await overNode(appWith({ upstreamUrl: up }))
    const res = await get(base)
    expect(res.headers.get('x-kept')).toBe('yes')
    expect(await res.text()).toBe(large)

    const small = await upstream((res) =>
      res.writeHead(201, { 'Content-Length': '5' }).end('small'),
    )
    const smallBase = await overNode(appWith({ upstreamUrl: small }))
    const got = await get(smallBase)
    expect(got.status).toBe(201)
    expect(got.headers.get('content-length')).toBe('5')
    expect(await got.text()).toBe('small')
    const head = await get(smallBase, { method: 'HEAD' })
    expect(head.status).toBe(201)
    expect(await head.text()).toBe('')
  })

  it('strips hop-by-hop headers and those Connection names (RFC 9110 §7.6.1)', async () => {
    const up = await upstream((res) => {
      res.writeHead(200, {
        Connection: 'X-Hop',
        'X-Hop': 'secret',
        'Proxy-Authenticate': 'Basic',
        'Content-Length': '2',
      })
      res.end('ok')
    })
    const res = await appWith({ upstreamUrl: up }).request('/api/x', {
      headers: { Authorization: 'Bearer good' },
    })
    expect(res.headers.get('x-hop')).toBeNull()
    expect(res.headers.get('proxy-authenticate')).toBeNull()
    expect(await res.text()).toBe('ok')
  })

  it('sends a decoded body without Content-Encoding when fetch decoded it', async () => {
    const gz = gzipSync('decoded text')
    const up = await upstream((res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': String(gz.length) })
      res.end(gz)
    })
    const base = await overNode(appWith({ upstreamUrl: up }))
    const res = await get(base)
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(await res.text()).toBe('decoded text')
  })
})
