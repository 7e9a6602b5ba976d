/**
 * The Node origin's /token path (node-token-fast-path.ts).
 *
 * Differential: the same requests — successes, every kind of refusal, the shapes the path leaves to
 * the app — sent over HTTP to an origin with the path and to one without it (`tokenFastPath: false`)
 * get the same status, headers and body (tokens compared by their claims), and leave the same
 * request metrics, grant counters and access log lines.
 *
 * Routing: with a recording app listener behind it, the path answers a client_credentials success
 * itself, hands a refusal to the app with the body it read (`rawBody`), and hands every other shape
 * to the app unread. It turns itself off when anything else is mounted on the token route.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import { createOriginRoutes } from '../../../src/entry/origin.ts'
import { createTokenFastPath, tokenFastPathFor } from '../../../src/entry/node-token-fast-path.ts'
import { tokenRoutes } from '../../../src/http/oauth/token-routes.ts'
import type { LogRecord } from '../../../src/http/log.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { privateJwks } from '../../fixtures/keys.ts'
import {
  listenWithStandIn,
  startFastPathPair,
  type FastPathPair,
  type LoggedOrigin,
  type StandInServer,
} from '../../support/fast-path-pair.ts'

const ISSUER = 'https://auth.test'
const SECRET = 'fast-path-secret-0123456789abcdefghijklmnopqrstuvwxyz'
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
const AUTH = basic('service', SECRET)
const FORM = 'application/x-www-form-urlencoded'

interface Ask {
  name: string
  /** Sent as given: an array value is sent as that many header lines. */
  headers: Record<string, string | string[]>
  body: string | Buffer
  path?: string
}

const ask = (
  name: string,
  body: string | Buffer,
  headers: Record<string, string | string[]> = {},
  path?: string,
): Ask => ({
  name,
  body,
  headers: { authorization: AUTH, 'content-type': FORM, ...headers },
  ...(path === undefined ? {} : { path }),
})

const ASKS: Ask[] = [
  ask('success', 'grant_type=client_credentials&scope=read'),
  ask('success, default scope', 'grant_type=client_credentials'),
  ask('success, registered origin', 'grant_type=client_credentials', {
    origin: 'https://app.test',
  }),
  ask('success, other origin', 'grant_type=client_credentials', { origin: 'https://evil.test' }),
  ask('success, sane request id', 'grant_type=client_credentials', { 'x-request-id': 'req-42' }),
  ask('wrong secret', 'grant_type=client_credentials', { authorization: basic('service', 'x') }),
  {
    name: 'no client authentication',
    headers: { 'content-type': FORM },
    body: 'grant_type=client_credentials',
  },
  ask('unknown client', 'grant_type=client_credentials', { authorization: basic('nobody', 'x') }),
  ask('secret in the body too', `grant_type=client_credentials&client_secret=${SECRET}`),
  ask('scope not allowed', 'grant_type=client_credentials&scope=admin'),
  ask('repeated scope', 'grant_type=client_credentials&scope=read&scope=write'),
  ask('repeated grant_type', 'grant_type=client_credentials&grant_type=refresh_token'),
  ask('unknown resource', 'grant_type=client_credentials&resource=https%3A%2F%2Fnope.test'),
  ask('no grant_type', 'scope=read'),
  ask('unsupported grant', 'grant_type=password&username=a&password=b'),
  ask('refresh grant', 'grant_type=refresh_token&refresh_token=abc'),
  ask('invalid UTF-8 body', Buffer.from([0x67, 0x3d, 0xff, 0xfe])),
  ask('escape decoding to invalid UTF-8', 'grant_type=client_credentials&scope=%FF'),
  ask('empty body', ''),
  ask('charset parameter', 'grant_type=client_credentials', {
    'content-type': `${FORM}; charset=UTF-8`,
  }),
  {
    name: 'JSON body',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: '{"grant_type":"client_credentials"}',
  },
  ask('garbage DPoP proof', 'grant_type=client_credentials', { dpop: 'not-a-proof' }),
  ask('two Authorization headers', 'grant_type=client_credentials', {
    authorization: [AUTH, AUTH],
  }),
  ask('query string', 'grant_type=client_credentials', {}, '/token?x=1'),
  ask('insane request id', 'grant_type=client_credentials', { 'x-request-id': 'a b' }),
]

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function send(port: number, a: Ask): Promise<Answer> {
  const body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: a.path ?? '/token',
        headers: { ...a.headers, 'content-length': String(body.length) },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** What must match between the two origins: tokens by their claims, ids only when the client set one. */
function comparable(answer: Answer, a: Ask) {
  const headers = { ...answer.headers }
  const id = headers['x-request-id']
  delete headers['x-request-id']
  delete headers.date
  const sentId = a.headers['x-request-id'] === 'req-42' && id === 'req-42'
  let body: unknown = answer.body
  if (answer.status === 200) {
    const parsed = JSON.parse(answer.body) as Record<string, unknown>
    const token = parsed.access_token as string
    const claims = decodeJwt(token)
    const lifetime = (claims.exp ?? 0) - (claims.iat ?? 0)
    for (const varies of ['jti', 'iat', 'exp']) delete claims[varies]
    body = { ...parsed, access_token: { header: decodeProtectedHeader(token), claims, lifetime } }
  }
  return { status: answer.status, headers, body, id: sentId ? id : typeof id }
}

async function writeConfig(dir: string): Promise<string> {
  const path = join(dir, 'gatehouse.json')
  await writeFile(
    path,
    JSON.stringify({
      issuer: ISSUER,
      keys: [{ ...privateJwks.ES256, status: 'active' }],
      clients: [
        {
          id: 'service',
          type: 'confidential',
          secretHash: await hashClientSecret(SECRET),
          tokenEndpointAuthMethod: 'client_secret_basic',
          grantTypes: ['client_credentials'],
          scopes: ['read', 'write'],
          defaultScopes: ['read'],
          audiences: ['https://api.test'],
          allowedOrigins: ['https://app.test'],
        },
      ],
    }),
  )
  return path
}

describe('the Node origin /token path', () => {
  let dir: string
  let pair: FastPathPair | undefined
  let servers: LoggedOrigin[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-fast-path-'))
    pair = await startFastPathPair('tokenFastPath', {
      GATEHOUSE_CONFIG: await writeConfig(dir),
      GATEHOUSE_ISSUER: ISSUER,
      GATEHOUSE_AUDIENCE: 'https://api.test',
    })
    servers = pair.origins
  })
  afterAll(async () => {
    await pair?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers every request as the app alone does, and counts and logs it alike', async () => {
    const [fast, app] = servers as [(typeof servers)[0], (typeof servers)[0]]
    for (const a of ASKS) {
      const [viaFast, viaApp] = [await send(fast.server.port, a), await send(app.server.port, a)]
      expect(comparable(viaFast, a), a.name).toEqual(comparable(viaApp, a))
    }
    const tokenMetrics = async (port: number) =>
      (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
        .split('\n')
        .filter((line) => /^gatehouse_(http_requests_total|tokens_issued_total)\{/.test(line))
        .filter((line) => line.includes('token'))
        .sort()
    const fastMetrics = await tokenMetrics(fast.server.port)
    expect(fastMetrics).toEqual(await tokenMetrics(app.server.port))
    expect(fastMetrics).toContain(
      'gatehouse_http_requests_total{method="POST",route="/token",status="200"} 8',
    )
    const requestLines = (logs: LogRecord[]) =>
      logs
        .filter((r) => r.msg === 'request' && r.path === '/token')
        .map(({ requestId: _id, durationMs: _ms, time: _time, ...rest }) => rest)
    expect(requestLines(fast.logs)).toEqual(requestLines(app.logs))
    expect(requestLines(fast.logs)).toHaveLength(ASKS.length)
  })
})

describe('createTokenFastPath routing', () => {
  let server: StandInServer
  let port: number
  const reachedApp: { body: string | undefined; name: string }[] = []
  let current = ''

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-fast-path-'))
    const origin = await createOriginRoutes(
      {
        GATEHOUSE_CONFIG: await writeConfig(dir),
        GATEHOUSE_ISSUER: ISSUER,
      },
      { store: createMemoryStore() },
    )
    await rm(dir, { recursive: true, force: true })
    const fast = createTokenFastPath({
      deps: { oauth: origin.oauth },
      path: '/token',
      logger: { log: () => {} },
    })
    server = await listenWithStandIn(fast, (incoming) => {
      const raw = (incoming as IncomingMessage & { rawBody?: Buffer }).rawBody
      reachedApp.push({ name: current, body: raw?.toString() })
    })
    port = server.port
  })
  afterAll(() => server.close())

  const through = async (a: Ask) => {
    current = a.name
    reachedApp.length = 0
    const answer = await send(port, a)
    return { status: answer.status, app: [...reachedApp] }
  }

  it('answers a client_credentials success itself', async () => {
    const { status, app } = await through(ASKS[0] as Ask)
    expect(status).toBe(200)
    expect(app).toEqual([])
  })

  it.each([
    'wrong secret',
    'scope not allowed',
    'refresh grant',
    'escape decoding to invalid UTF-8',
  ])('hands a refusal (%s) to the app with the body it read', async (name) => {
    const a = ASKS.find((x) => x.name === name) as Ask
    const { status, app } = await through(a)
    expect(status).toBe(418)
    expect(app).toEqual([{ name, body: a.body.toString() }])
  })

  it.each([
    'garbage DPoP proof',
    'two Authorization headers',
    'query string',
    'charset parameter',
    'JSON body',
  ])('hands %s to the app unread', async (name) => {
    const { status, app } = await through(ASKS.find((x) => x.name === name) as Ask)
    expect(status).toBe(418)
    expect(app).toEqual([{ name, body: undefined }])
  })

  it('turns itself off when anything else is mounted on the token route', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-fast-path-'))
    const origin = await createOriginRoutes(
      { GATEHOUSE_CONFIG: await writeConfig(dir), GATEHOUSE_ISSUER: ISSUER },
      { store: createMemoryStore() },
    )
    await rm(dir, { recursive: true, force: true })
    const options = {
      deps: { oauth: origin.oauth },
      path: '/token',
      logger: { log: () => {} },
    }
    const plain = new Hono().route('/', tokenRoutes({ oauth: origin.oauth }, ''))
    expect(tokenFastPathFor(plain as never, options)).toBeTypeOf('function')
    const wrapped = new Hono()
    wrapped.use(async (_c, next) => next())
    wrapped.route('/', tokenRoutes({ oauth: origin.oauth }, ''))
    expect(tokenFastPathFor(wrapped as never, options)).toBeUndefined()
    expect(tokenFastPathFor(plain as never, { ...options, path: '/other/token' })).toBeUndefined()
  })
})
