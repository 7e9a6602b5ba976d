/**
 * The Node origin's /verify path (node-verify-fast-path.ts).
 *
 * Differential: the same requests — L1 hits, misses, every kind of refusal, a token revoked and one
 * expired after they were cached, a DPoP-bound token, the shapes the path leaves to the app — sent
 * as raw HTTP/1.1 to an origin with the path and to one without it (`verifyFastPath: false`) get the
 * same bytes back (status line, every header line in order, body; only the `Date` and a generated
 * request id differ), and leave the same request metrics and access log lines.
 *
 * Routing: with a recording app listener behind it, the path answers an L1 hit itself and hands every
 * miss, refusal and other shape to the app. It turns itself off when anything else runs on the route.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import {
  createVerifyFastPath,
  verifyFastPathFor,
} from '../../../src/entry/node-verify-fast-path.ts'
import { createApp } from '../../../src/http/app.ts'
import { buildVerifier } from '../../../src/http/build-verifier.ts'
import type { LogRecord } from '../../../src/http/log.ts'
import { verifyRoutes } from '../../../src/http/verify-route.ts'
import {
  privateJwks,
  publicJwks,
  signTestToken,
  TEST_AUDIENCE,
  TEST_ISSUER,
} from '../../fixtures/keys.ts'
import {
  listenWithStandIn,
  startFastPathPair,
  type FastPathPair,
  type LoggedOrigin,
  type StandInServer,
} from '../../support/fast-path-pair.ts'

/** A JWK thumbprint's shape (RFC 7638, base64url of a SHA-256): what a DPoP binding names. */
const JKT = 'A'.repeat(43)

interface Ask {
  name: string
  method?: string
  path?: string
  /** Header lines as sent, in order (a name may repeat). */
  headers: [string, string][]
  body?: string
  /** HTTP version of the request line. Default 1.1. */
  version?: string
}

/** The raw answer: status line, header lines, body, as the bytes came. */
interface RawAnswer {
  head: string[]
  body: string
}

/**
 * Sends `a` on a new connection as written and reads one answer (its `Content-Length` body; none for
 * HEAD), without any client library normalising either side.
 */
function sendRaw(port: number, a: Ask): Promise<RawAnswer> {
  const method = a.method ?? 'GET'
  const lines = [
    `${method} ${a.path ?? '/verify'} HTTP/${a.version ?? '1.1'}`,
    ...(a.headers.some(([n]) => n.toLowerCase() === 'host') ? [] : [`Host: localhost:${port}`]),
    ...a.headers.map(([n, v]) => `${n}: ${v}`),
    ...(a.body === undefined ? [] : [`Content-Length: ${Buffer.byteLength(a.body)}`]),
  ]
  const request = `${lines.join('\r\n')}\r\n\r\n${a.body ?? ''}`
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = Buffer.alloc(0)
    const done = (answer: RawAnswer) => {
      socket.destroy()
      resolve(answer)
    }
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      const end = data.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = data.subarray(0, end).toString('latin1').split('\r\n')
      const length = head.find((l) => /^content-length:/i.test(l))
      const size = method === 'HEAD' || length === undefined ? 0 : Number(length.split(':')[1])
      if (data.length - end - 4 >= size)
        done({ head, body: data.subarray(end + 4, end + 4 + size).toString() })
    })
    socket.on('end', () => done({ head: [data.toString('latin1')], body: '' }))
    socket.on('error', reject)
    socket.write(request)
  })
}

/** What must match between the two origins: every byte but the date and a generated request id. */
function comparable(answer: RawAnswer, a: Ask) {
  const sentId = a.headers.find(([n]) => n.toLowerCase() === 'x-request-id')?.[1]
  const head = answer.head.map((line) => {
    if (/^date:/i.test(line)) return 'Date: <date>'
    const id = /^x-request-id: (.*)$/i.exec(line)
    if (id !== null && id[1] !== sentId) return 'X-Request-Id: <generated>'
    return line
  })
  return { head, body: answer.body }
}

async function writeConfig(dir: string): Promise<string> {
  const path = join(dir, 'gatehouse.json')
  await writeFile(
    path,
    JSON.stringify({
      issuer: TEST_ISSUER,
      keys: [{ ...privateJwks.ES256, status: 'active' }],
      clients: [
        {
          id: 'service',
          type: 'confidential',
          secretHash: await hashClientSecret('verify-path-secret-0123456789abcdefghijklmnop'),
          tokenEndpointAuthMethod: 'client_secret_basic',
          grantTypes: ['client_credentials'],
          scopes: ['read'],
          audiences: [TEST_AUDIENCE],
        },
      ],
    }),
  )
  return path
}

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`]

describe('the Node origin /verify path', () => {
  let dir: string
  let pair: FastPathPair | undefined
  let servers: LoggedOrigin[] = []
  const now = Math.floor(Date.now() / 1000)
  let plain: string
  let other: string
  let doomed: string
  let expiring: string
  let bound: string
  let foreign: string
  let admin: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-verify-path-'))
    const config = await writeConfig(dir)
    plain = await signTestToken({ sub: 'user-1', scope: 'read' })
    other = await signTestToken({ sub: 'user-2', name: 'Zoë "quoted" \u2603' })
    // Issued before the revocation below (a subject's revocation is a not-before).
    doomed = await signTestToken({ sub: 'user-doomed' }, { now: now - 30 })
    bound = await signTestToken({ sub: 'user-4', cnf: { jkt: JKT } })
    foreign = await signTestToken({ aud: 'https://elsewhere.test' })
    admin = await signTestToken({ aud: TEST_ISSUER, scope: 'gatehouse:admin' })
    pair = await startFastPathPair('verifyFastPath', {
      GATEHOUSE_CONFIG: config,
      GATEHOUSE_ISSUER: TEST_ISSUER,
      GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
      GATEHOUSE_REVOCATION_SYNC_SECONDS: '1',
    })
    servers = pair.origins
  })
  afterAll(async () => {
    await pair?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Sends each ask to both origins (the fast one first) and expects the same answers. */
  async function same(asks: Ask[]): Promise<void> {
    const [fast, app] = servers as [(typeof servers)[0], (typeof servers)[0]]
    for (const a of asks) {
      const viaFast = await sendRaw(fast.server.port, a)
      const viaApp = await sendRaw(app.server.port, a)
      expect(comparable(viaFast, a), a.name).toEqual(comparable(viaApp, a))
    }
  }

  /** Until both origins' revocation filters hold more entries than `before`. */
  async function synced(before: number[]): Promise<void> {
    for (const [i, { server }] of servers.entries()) {
      for (let tries = 0; ; tries++) {
        const status = (await (
          await fetch(`http://127.0.0.1:${server.port}/revocation/status`)
        ).json()) as { entries: number }
        if (status.entries > (before[i] as number)) break
        if (tries > 100) throw new Error('the revocation did not reach the filter')
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  it('answers every request as the app alone does, and counts and logs it alike', async () => {
    // Signed now, once both origins are up: valid for the first asks, expired (in L1) for the later.
    const expiresAt = Math.floor(Date.now() / 1000) + 4
    expiring = await signTestToken({ sub: 'user-3', exp: expiresAt })
    const asks = (): Ask[] => [
      { name: 'miss, then cached', headers: [bearer(plain)] },
      { name: 'L1 hit', headers: [bearer(plain)] },
      { name: 'L1 hit, keep-alive asked', headers: [bearer(plain), ['Connection', 'keep-alive']] },
      { name: 'L1 hit, sane request id', headers: [bearer(plain), ['X-Request-Id', 'req-42']] },
      { name: 'L1 hit, insane request id', headers: [bearer(plain), ['X-Request-Id', 'a b']] },
      {
        name: 'L1 hit, long request id',
        headers: [bearer(plain), ['X-Request-Id', 'x'.repeat(65)]],
      },
      { name: 'other claims, miss', headers: [bearer(other)] },
      { name: 'other claims, hit', headers: [bearer(other)] },
      { name: 'to be revoked, miss', headers: [bearer(doomed)] },
      { name: 'to be revoked, hit', headers: [bearer(doomed)] },
      { name: 'expiring, miss', headers: [bearer(expiring)] },
      { name: 'expiring, hit', headers: [bearer(expiring)] },
      { name: 'DPoP-bound by its scheme, no proof', headers: [['Authorization', `DPoP ${bound}`]] },
      { name: 'DPoP-bound as a bearer token', headers: [bearer(bound)] },
      { name: 'another audience', headers: [bearer(foreign)] },
      { name: 'garbage token', headers: [bearer('abc.def.ghi')] },
      { name: 'malformed header', headers: [['Authorization', `Bearer ${plain} x`]] },
      { name: 'lower-case scheme', headers: [['Authorization', `bearer ${plain}`]] },
      { name: 'Basic', headers: [['Authorization', 'Basic dXNlcjpwYXNz']] },
      { name: 'no Authorization', headers: [] },
      { name: 'two Authorization headers', headers: [bearer(plain), bearer(plain)] },
      {
        name: 'two request ids',
        headers: [bearer(plain), ['X-Request-Id', 'a'], ['X-Request-Id', 'b']],
      },
      { name: 'query string', path: '/verify?x=1', headers: [bearer(plain)] },
      { name: 'token in the query', path: `/verify?access_token=${plain}`, headers: [] },
      { name: 'trailing slash', path: '/verify/', headers: [bearer(plain)] },
      { name: 'HEAD', method: 'HEAD', headers: [bearer(plain)] },
      { name: 'POST, no body', method: 'POST', headers: [bearer(plain)] },
      {
        name: 'POST form',
        method: 'POST',
        headers: [['Content-Type', 'application/x-www-form-urlencoded']],
        body: `access_token=${plain}`,
      },
      {
        name: 'POST form and header',
        method: 'POST',
        headers: [bearer(plain), ['Content-Type', 'application/x-www-form-urlencoded']],
        body: `access_token=${plain}`,
      },
      { name: 'GET with a body', headers: [bearer(plain)], body: 'x=1' },
      {
        name: 'OPTIONS preflight',
        method: 'OPTIONS',
        headers: [
          ['Origin', 'https://app.test'],
          ['Access-Control-Request-Method', 'GET'],
        ],
      },
      { name: 'DELETE', method: 'DELETE', headers: [bearer(plain)] },
      { name: 'DPoP header beside a bearer token', headers: [bearer(plain), ['DPoP', 'x']] },
      {
        name: 'X-Original-* half',
        headers: [bearer(plain), ['X-Original-Method', 'GET']],
      },
      {
        name: 'X-Original-* whole',
        headers: [
          bearer(plain),
          ['X-Original-Method', 'GET'],
          ['X-Original-URL', 'https://api.test/orders'],
        ],
      },
      { name: 'upper-case Host', headers: [['Host', 'LOCALHOST'], bearer(plain)] },
      { name: 'Host with port 80', headers: [['Host', '127.0.0.1:80'], bearer(plain)] },
      { name: 'Host with userinfo', headers: [['Host', 'a@b'], bearer(plain)] },
      { name: 'Host with port 59999', headers: [['Host', 'localhost:59999'], bearer(plain)] },
      { name: 'Host with port 60000', headers: [['Host', 'localhost:60000'], bearer(plain)] },
      { name: 'Host with port 65535', headers: [['Host', 'localhost:65535'], bearer(plain)] },
      { name: 'Host with port 65536', headers: [['Host', 'localhost:65536'], bearer(plain)] },
      { name: 'Host with port 060000', headers: [['Host', 'localhost:060000'], bearer(plain)] },
      // Names the URL parser rewrites (an IPv4 form) or refuses: node-server answers a bare 400.
      { name: 'Host 127.1, port 60000', headers: [['Host', '127.1:60000'], bearer(plain)] },
      { name: 'Host a.1, port 60000', headers: [['Host', 'a.1:60000'], bearer(plain)] },
      { name: 'HTTP/1.0', version: '1.0', headers: [bearer(plain)] },
      {
        name: 'Upgrade asked',
        headers: [bearer(plain), ['Connection', 'upgrade'], ['Upgrade', 'x']],
      },
    ]
    await same(asks())

    // Revoked after it was cached: the filter hit is confirmed in L2, the app renders the refusal.
    const before = await Promise.all(
      servers.map(
        async ({ server }) =>
          (
            (await (await fetch(`http://127.0.0.1:${server.port}/revocation/status`)).json()) as {
              entries: number
            }
          ).entries,
      ),
    )
    for (const { server } of servers) {
      const revoked = await fetch(
        `http://127.0.0.1:${server.port}/admin/users/user-doomed/revoke`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${admin}` },
        },
      )
      expect(revoked.status).toBe(200)
    }
    await synced(before)
    // Expired while cached: past `exp` the L1 no longer serves it.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt * 1000 - Date.now()) + 50))
    const later: Ask[] = [
      { name: 'revoked after caching', headers: [bearer(doomed)] },
      { name: 'revoked, again', headers: [bearer(doomed)] },
      { name: 'expired in L1', headers: [bearer(expiring)] },
      { name: 'L1 hit, still', headers: [bearer(plain)] },
    ]
    await same(later)

    const [fast, app] = servers as [(typeof servers)[0], (typeof servers)[0]]
    const verifyMetrics = async (port: number) =>
      (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
        .split('\n')
        .filter((line) => /^gatehouse_http_request/.test(line) && line.includes('"/verify"'))
        .filter((line) => !/_(sum|bucket)\{/.test(line))
        .sort()
    const fastMetrics = await verifyMetrics(fast.server.port)
    expect(fastMetrics).toEqual(await verifyMetrics(app.server.port))
    expect(fastMetrics).toContainEqual(
      expect.stringMatching(
        /^gatehouse_http_requests_total\{method="GET",route="\/verify",status="200"\} \d\d$/,
      ),
    )
    const requestLines = (logs: LogRecord[]) =>
      logs
        .filter((r) => r.msg === 'request' && String(r.path).startsWith('/verify'))
        .map(({ requestId, durationMs: _ms, time: _time, ...rest }) => ({
          ...rest,
          requestId: requestId === 'req-42' ? requestId : typeof requestId,
        }))
    expect(requestLines(fast.logs)).toEqual(requestLines(app.logs))
    // One line per ask but the Hosts @hono/node-server refuses itself (a bare 400): with userinfo,
    // port 65536, and the names the URL parser does not give back.
    expect(requestLines(fast.logs)).toHaveLength(asks().length + later.length - 4)
  }, 30_000)
})

describe('createVerifyFastPath routing', () => {
  let server: StandInServer
  let port: number
  const reachedApp: string[] = []
  let current = ''
  let cached: string
  let uncached: string
  let bound: string

  beforeAll(async () => {
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
    })
    cached = await signTestToken()
    uncached = await signTestToken()
    bound = await signTestToken({ cnf: { jkt: JKT } })
    await verifier.verify(cached)
    await verifier.verify(bound)
    const fast = createVerifyFastPath({ verifier, path: '/verify', logger: { log: () => {} } })
    server = await listenWithStandIn(fast, () => reachedApp.push(current))
    port = server.port
  })
  afterAll(() => server.close())

  const through = async (a: Ask) => {
    current = a.name
    reachedApp.length = 0
    const answer = await sendRaw(port, a)
    return { status: answer.head[0], app: [...reachedApp] }
  }

  it('answers an L1 hit itself, with the route headers and length', async () => {
    const answer = await sendRaw(port, { name: 'hit', headers: [bearer(cached)] })
    expect(answer.head[0]).toBe('HTTP/1.1 200 OK')
    expect(answer.head.slice(1, 4)).toEqual([
      'Content-Type: application/json',
      'Cache-Control: no-store',
      expect.stringMatching(/^X-Request-Id: [\w-]+$/),
    ])
    expect(answer.head).toContain(`Content-Length: ${Buffer.byteLength(answer.body)}`)
    expect(JSON.parse(answer.body)).toMatchObject({ active: true, sub: 'user-1' })
  })

  type Tokens = { cached: string; uncached: string; bound: string }
  it.each<[string, (t: Tokens) => Partial<Ask>]>([
    ['a miss', (t) => ({ headers: [bearer(t.uncached)] })],
    ['a DPoP-bound token as a bearer token', (t) => ({ headers: [bearer(t.bound)] })],
    ['a POST', (t) => ({ method: 'POST', headers: [bearer(t.cached)] })],
    ['HEAD', (t) => ({ method: 'HEAD', headers: [bearer(t.cached)] })],
    ['a query string', (t) => ({ path: '/verify?a=1', headers: [bearer(t.cached)] })],
    ['another path', (t) => ({ path: '/verify2', headers: [bearer(t.cached)] })],
    ['HTTP/1.0', (t) => ({ version: '1.0', headers: [bearer(t.cached)] })],
    ['a lower-case scheme', (t) => ({ headers: [['Authorization', `bearer ${t.cached}`]] })],
    ['a DPoP header', (t) => ({ headers: [bearer(t.cached), ['DPoP', 'x']] })],
    [
      'X-Original-URL',
      (t) => ({ headers: [bearer(t.cached), ['X-Original-URL', 'https://a.test/']] }),
    ],
    [
      'a repeated header',
      (t) => ({ headers: [bearer(t.cached), ['Accept', 'a'], ['Accept', 'b']] }),
    ],
    ['a body', (t) => ({ headers: [bearer(t.cached)], body: 'x' })],
    ['an odd Host', (t) => ({ headers: [['Host', 'A.test'], bearer(t.cached)] })],
    ...['localhost:65536', 'localhost:060000', '127.1:60000', 'a.1:60000', 'xn--a:65535'].map(
      (host): [string, (t: Tokens) => Partial<Ask>] => [
        `Host ${host}`,
        (t) => ({ headers: [['Host', host], bearer(t.cached)] }),
      ],
    ),
  ])('hands %s to the app', async (name, ask) => {
    const { status, app } = await through({
      headers: [],
      ...ask({ cached, uncached, bound }),
      name,
    })
    expect(status).toBe("HTTP/1.1 418 I'm a Teapot")
    expect(app).toEqual([name])
  })

  it.each(['localhost:60000', 'localhost:65535', '127.0.0.1:61234'])(
    'answers an L1 hit itself with Host %s (a port node-server parses)',
    async (host) => {
      const { status, app } = await through({
        name: host,
        headers: [['Host', host], bearer(cached)],
      })
      expect(status).toBe('HTTP/1.1 200 OK')
      expect(app).toEqual([])
    },
  )

  it('turns itself off when anything else runs on the /verify route', async () => {
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
    })
    const options = { path: '/verify', logger: { log: () => {} } }
    const plain = createApp({ role: 'origin', verifier, logger: { log: () => {} } })
    expect(verifyFastPathFor(plain, options)).toBeTypeOf('function')
    const wrapped = createApp({
      role: 'origin',
      verifier,
      logger: { log: () => {} },
      middleware: [async (_c, next) => next()],
    })
    expect(verifyFastPathFor(wrapped, options)).toBeUndefined()
    const other = new Hono().get('/verify', (c) => c.text('not the route'))
    expect(verifyFastPathFor(other as never, options)).toBeUndefined()
    const moved = new Hono().route('/v', verifyRoutes(verifier))
    expect(verifyFastPathFor(moved as never, options)).toBeUndefined()
    expect(verifyFastPathFor(plain, { ...options, path: '/healthz' })).toBeUndefined()
  })
})
