/**
 * Hostile HTTP/1.1 over real sockets, on both runtimes: the Node origin (`dist/entry/node.js`) and the
 * bundled Worker under `workerd serve` (raw-targets.ts). First every reproduction of issue 22, each
 * with its deliberate answer (docs/gateway.md, "Refusals"); then generated requests — odd methods,
 * absolute-form and userinfo targets, NUL and invalid UTF-8, duplicate and oversized headers,
 * Content-Length lies, broken and oversized chunking, forwarding-header spoofs, clients that stop
 * halfway — bounded in count (FUZZ_RAW_RUNS per runtime) and by a generous per-exchange timeout.
 *
 * Properties: no 5xx that Gatehouse produced (every Gatehouse answer carries `X-Request-Id`; workerd's
 * own answers to what it cannot parse do not, and are allowed), every complete request is answered,
 * no `error` log line, no upstream or origin failure recorded (so the breakers never moved: the edge's
 * opens at its first failure here), a spoofed forwarding header never reaches the upstream, and both
 * runtimes still serve afterwards.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawExchange, type RawAnswer } from './raw-client.ts'
import { BODY_LIMIT, startRawTargets, type RawTargets, type Runtime } from './raw-targets.ts'

const RUNS = Number(process.env.FUZZ_RAW_RUNS ?? 150)
const SPOOF = '6.6.6.6'

let targets: RawTargets
beforeAll(async () => {
  targets = await startRawTargets()
})
afterAll(async () => {
  await targets?.close()
})

const runtimes = () => [targets.node, targets.workerd]

/** What a case must get: a status from Gatehouse, or (workerd only) the runtime's own answer. */
type Expected = number | 'runtime'

interface Case {
  name: string
  request: (token: string) => string
  halfClose?: boolean
  node: Expected
  workerd: Expected
  also?: (answer: RawAnswer, runtime: Runtime) => void
}

const head = (method: string, target: string, headers: string[] = []) =>
  `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`
const bearer = (token: string) => `Authorization: Bearer ${token}`
/**
 * A client still uploading a large chunked body: the chunk's size line, then one byte past the body
 * limit, and nothing more; the answer cannot wait for the rest. Not the whole body: workerd reads on
 * for at most 64 KiB after answering, then closes with the rest unread and its TCP stack resets the
 * connection (RFC 9112 §9.6). A client still writing then fails with EPIPE, and Node destroys the
 * socket before reading the 413 that arrived first (7 of 200 exchanges, idle machine). A server can
 * refuse this body only after reading past the limit, and what follows is less than workerd reads on.
 */
const uploadPastLimit = (declared: number) =>
  `${declared.toString(16)}\r\n${'a'.repeat(BODY_LIMIT + 1)}`

const CASES: Case[] = [
  {
    name: 'TRACE on a proxied route: 405 with Allow',
    request: (t) => head('TRACE', '/api/orders', [bearer(t)]),
    node: 405,
    workerd: 405,
    also: (a) => expect(a.headers.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'),
  },
  {
    name: 'a method the runtime knows but nobody forwards: 405',
    request: (t) => head('PROPFIND', '/api/orders', [bearer(t), 'Content-Length: 0']),
    node: 405,
    workerd: 405,
  },
  {
    name: 'CONNECT: 405 on Node; workerd answers it itself',
    request: () => head('CONNECT', '127.0.0.1:443'),
    node: 405,
    workerd: 'runtime',
  },
  {
    name: 'an unknown method: 400 from Node; workerd answers it itself',
    request: () => head('FOO', '/api/orders', ['Content-Length: 0']),
    node: 400,
    workerd: 'runtime',
  },
  {
    name: 'GET with Expect: 100-continue is forwarded without it',
    request: (t) => head('GET', '/api/orders', [bearer(t), 'Expect: 100-continue']),
    node: 200,
    workerd: 200,
    also: () => expect(targets.upstreamSeen.at(-1)?.expect).toBeUndefined(),
  },
  {
    name: 'POST with Expect: 100-continue: 100, then the upstream answer',
    request: (t) =>
      head('POST', '/api/orders', [bearer(t), 'Expect: 100-continue', 'Content-Length: 2']) + 'hi',
    node: 200,
    workerd: 200,
    also: () => expect(targets.upstreamSeen.at(-1)?.expect).toBeUndefined(),
  },
  {
    name: 'an expectation other than 100-continue: 417',
    request: (t) => head('POST', '/api/orders', [bearer(t), 'Expect: magic', 'Content-Length: 0']),
    node: 417,
    workerd: 417,
  },
  {
    name: 'absolute-form target with userinfo: 400 on Node (workerd builds the URL from Host)',
    request: (t) => head('POST', 'http://u@h/api/orders', [bearer(t), 'Content-Length: 0']),
    node: 400,
    workerd: 200,
  },
  {
    name: 'absolute-form target naming another host: 400 on Node (workerd uses Host)',
    request: (t) => head('GET', 'http://other.test/api/orders', [bearer(t)]),
    node: 400,
    workerd: 200,
  },
  {
    name: 'POST /verify shorter than its Content-Length, then FIN: 400',
    request: () =>
      head('POST', '/verify', [
        'Content-Type: application/x-www-form-urlencoded',
        'Content-Length: 100',
      ]) + 'access_token=abc',
    halfClose: true,
    node: 400,
    workerd: 400,
  },
  {
    name: 'gateway POST shorter than its Content-Length, then FIN: 400',
    request: (t) => head('POST', '/api/orders', [bearer(t), 'Content-Length: 100']) + 'abc',
    halfClose: true,
    node: 400,
    workerd: 400,
  },
  {
    name: 'POST /token shorter than its Content-Length, then FIN: 400',
    request: () =>
      head('POST', '/token', [
        'Content-Type: application/x-www-form-urlencoded',
        'Content-Length: 100',
      ]) + 'grant_type=x',
    halfClose: true,
    node: 400,
    workerd: 400,
  },
  {
    name: 'headers beyond what the next hop takes, on the gateway: 431',
    request: (t) => head('GET', '/api/orders', [bearer(t), `X-Big: ${'a'.repeat(40_000)}`]),
    node: 431,
    workerd: 431,
  },
  {
    name: 'headers beyond what the origin takes, on a minting route: 431',
    request: () => head('POST', '/token', [`X-Big: ${'a'.repeat(40_000)}`, 'Content-Length: 0']),
    node: 431,
    workerd: 431,
  },
  {
    name: 'a declared body over the gateway limit: 413',
    request: (t) =>
      head('POST', '/api/orders', [bearer(t), `Content-Length: ${BODY_LIMIT + 1}`]) +
      'a'.repeat(BODY_LIMIT + 1),
    node: 413,
    workerd: 413,
  },
  {
    name: 'a 1.47 MB chunked POST to /token is refused once past the limit, not left unanswered',
    request: () =>
      head('POST', '/token', [
        'Content-Type: application/x-www-form-urlencoded',
        'Transfer-Encoding: chunked',
      ]) + uploadPastLimit(1_470_000),
    node: 413,
    workerd: 413,
  },
  {
    name: 'a 1.47 MB chunked POST through the gateway: 413 once past the limit',
    request: (t) =>
      head('POST', '/api/orders', [bearer(t), 'Transfer-Encoding: chunked']) +
      uploadPastLimit(1_470_000),
    node: 413,
    workerd: 413,
  },
  {
    name: 'broken chunked framing: 400',
    request: (t) =>
      head('POST', '/api/orders', [bearer(t), 'Transfer-Encoding: chunked']) +
      'zz\r\nabc\r\n0\r\n\r\n',
    node: 400,
    workerd: 400,
  },
  {
    name: 'an upgrade request with broken chunked content: 400, not a hang',
    request: (t) =>
      head('PATCH', '/api/orders', [
        bearer(t),
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Transfer-Encoding: chunked',
      ]) + 'zz\r\nabc\r\n0\r\n\r\n',
    node: 400,
    workerd: 400,
  },
  {
    name: 'content on a GET: 400',
    request: (t) => head('GET', '/api/orders', [bearer(t), 'Content-Length: 3']) + 'abc',
    node: 400,
    workerd: 400,
  },
  {
    name: 'spoofed forwarding headers never reach the upstream',
    request: (t) =>
      head('GET', '/api/orders', [
        bearer(t),
        `X-Forwarded-For: ${SPOOF}`,
        `Forwarded: for=${SPOOF}`,
        `X-Real-IP: ${SPOOF}`,
        'X-Forwarded-Host: evil.test',
      ]),
    node: 200,
    workerd: 200,
    also: () => expect(JSON.stringify(targets.upstreamSeen.at(-1))).not.toMatch(/6\.6\.6\.6|evil/),
  },
]

/** No 5xx of Gatehouse's making: Gatehouse answers carry X-Request-Id, workerd's own do not. */
function expectNoGatehouse5xx(answer: RawAnswer, runtime: Runtime, what: string): void {
  if (answer.status === undefined || answer.status < 500) return
  expect(runtime.name === 'workerd' && answer.headers['x-request-id'] === undefined, what).toBe(
    true,
  )
}

describe('raw HTTP: every reproduction gets its deliberate answer', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      for (const runtime of runtimes()) {
        const answer = await rawExchange(runtime.port, c.request(targets.token), {
          halfClose: c.halfClose ?? false,
        })
        const expected = c[runtime.name]
        const what = `${runtime.name}: ${answer.end} ${String(answer.status)} ${answer.body.slice(0, 120)}`
        expect(answer.end, what).toBe('answered')
        expectNoGatehouse5xx(answer, runtime, what)
        if (expected === 'runtime') {
          expect(answer.headers['x-request-id'], what).toBeUndefined()
        } else {
          expect(answer.status, what).toBe(expected)
          if (expected >= 400)
            expect(JSON.parse(answer.body), what).toMatchObject({ error: 'invalid_request' })
          c.also?.(answer, runtime)
        }
      }
    })
  }
})

// ---- Generated requests ----

const PATHS = [
  '/api/orders',
  '/api',
  '/api/a/../b',
  '/verify',
  '/token',
  '/revoke',
  '/authorize?client_id=spa',
  '/.well-known/jwks.json',
  '/healthz',
  '/nope',
]
const path = fc.constantFrom(...PATHS)
const target = fc.oneof(
  { weight: 6, arbitrary: path },
  { weight: 1, arbitrary: path.map((p) => `http://other.test${p}`) },
  { weight: 1, arbitrary: path.map((p) => `http://u:p@h${p}`) },
  { weight: 1, arbitrary: fc.constantFrom('*', '127.0.0.1:443', '', '//x', '/%zz', '/\xff\xfe') },
  { weight: 1, arbitrary: path.map((p) => `${p}\x00x`) },
)
const method = fc.constantFrom(
  'GET',
  'GET',
  'POST',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'PROPFIND',
  'PURGE',
  'FOO',
  'get',
)
const header = fc.constantFrom(
  `X-Forwarded-For: ${SPOOF}`,
  `Forwarded: for=${SPOOF}`,
  `X-Real-IP: ${SPOOF}`,
  'Expect: 100-continue',
  'Expect: nonsense',
  'Connection: close',
  'Connection: keep-alive, X-Hop',
  'X-Hop: 1',
  'Upgrade: websocket\r\nConnection: Upgrade',
  'Host: second.test',
  `X-Big: ${'a'.repeat(20_000)}`,
  'X-Bin: \xff\xfe\xfd',
  'X-Nul: a\x00b',
  'Content-Type: application/x-www-form-urlencoded',
  'Content-Type: application/json',
  'Cookie: a=1; a=2',
  'Bad Header: x',
  'X-Dup: 1\r\nX-Dup: 2',
)

/** A body and its framing; `complete: false` means the client stops sending (FIN) mid-request. */
interface Framing {
  headers: readonly string[]
  body: string
  complete: boolean
}
const text = fc.string({ maxLength: 200 })
const framing: fc.Arbitrary<Framing> = fc.oneof(
  fc.constant({ headers: [], body: '', complete: true }),
  text.map((b) => ({
    headers: [`Content-Length: ${Buffer.byteLength(b)}`],
    body: b,
    complete: true,
  })),
  fc.tuple(text, fc.integer({ min: 1, max: 500 })).map(([b, more]) => ({
    headers: [`Content-Length: ${Buffer.byteLength(b) + more}`],
    body: b,
    complete: false,
  })),
  text.map((b) => ({
    headers: ['Transfer-Encoding: chunked'],
    body: `${Buffer.byteLength(b).toString(16)}\r\n${b}\r\n0\r\n\r\n`,
    complete: true,
  })),
  fc.constantFrom('zz\r\nabc\r\n0\r\n\r\n', '3\r\nabcdef\r\n0\r\n\r\n', '-1\r\n\r\n').map((b) => ({
    headers: ['Transfer-Encoding: chunked'],
    body: b,
    complete: true,
  })),
  text.map((b) => ({
    headers: ['Transfer-Encoding: chunked'],
    body: `${(Buffer.byteLength(b) + 5).toString(16)}\r\n${b}`,
    complete: false,
  })),
  fc.constant({
    headers: ['Content-Length: 3', 'Transfer-Encoding: chunked'],
    body: '3\r\nabc\r\n0\r\n\r\n',
    complete: true,
  }),
  fc.constant({
    headers: ['Content-Length: 3', 'Content-Length: 4'],
    body: 'abcd',
    complete: true,
  }),
  fc.constant({
    headers: [`Content-Length: ${BODY_LIMIT + 10}`],
    body: 'a'.repeat(BODY_LIMIT + 10),
    complete: true,
  }),
)
const credential = fc.oneof(
  fc.constant('valid'),
  fc.constant('none'),
  fc.nat().map((n) => `flip:${n}`),
)
const generated = fc.record({
  method,
  target,
  headers: fc.array(header, { maxLength: 3 }),
  framing,
  credential,
})
type Generated = typeof generated extends fc.Arbitrary<infer T> ? T : never

function render(g: Generated, token: string): string {
  const lines = [...g.headers, ...g.framing.headers]
  if (g.credential === 'valid') lines.push(bearer(token))
  else if (g.credential.startsWith('flip:')) {
    const i = Number(g.credential.slice(5)) % token.length
    lines.push(bearer(token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1)))
  }
  return head(g.method, g.target, lines) + g.framing.body
}

describe('raw HTTP: generated hostile requests', () => {
  for (const name of ['node', 'workerd'] as const) {
    it(`${name}: never a Gatehouse 5xx, every complete request answered`, async () => {
      const runtime = targets[name]
      await fc.assert(
        fc.asyncProperty(generated, async (g) => {
          const raw = render(g, targets.token)
          const answer = await rawExchange(runtime.port, Buffer.from(raw, 'latin1'), {
            halfClose: !g.framing.complete,
            head: g.method === 'HEAD',
          })
          const what = `${name}: ${JSON.stringify(raw.slice(0, 300))} -> ${answer.end} ${String(answer.status)}`
          expectNoGatehouse5xx(answer, runtime, what)
          if (g.framing.complete) expect(answer.end, what).not.toBe('timeout')
          if (g.framing.complete && answer.end !== 'answered')
            expect(answer.end, what).not.toBe('reset')
        }),
        { numRuns: RUNS },
      )
    })
  }
})

describe('raw HTTP: afterwards', () => {
  it('no spoofed forwarding header reached the upstream', () => {
    for (const seen of targets.upstreamSeen) {
      for (const name of ['x-forwarded-for', 'forwarded', 'x-real-ip'])
        expect(String(seen[name] ?? ''), name).not.toContain(SPOOF)
    }
  })

  it('logged no error and recorded no upstream or origin failure on either runtime', () => {
    for (const runtime of runtimes()) {
      // The logs were read: requests left access-log lines.
      expect(
        runtime.logs.some((r) => r.msg === 'request'),
        runtime.name,
      ).toBe(true)
      const bad = runtime.logs.filter(
        (r) =>
          r.level === 'error' ||
          /request failed/.test(String(r.msg)) ||
          /circuit_open|unhandled/.test(`${String(r.error)} ${String(r.msg)}`),
      )
      expect(bad, runtime.name).toEqual([])
    }
  })

  it('both runtimes still serve: the gateway and, through the closed breaker, the origin', async () => {
    for (const runtime of runtimes()) {
      const gateway = await rawExchange(
        runtime.port,
        head('GET', '/api/orders', [bearer(targets.token)]),
      )
      expect(gateway.status, runtime.name).toBe(200)
      const token = await rawExchange(
        runtime.port,
        head('POST', '/token', [
          'Content-Type: application/x-www-form-urlencoded',
          'Content-Length: 29',
        ]) + 'grant_type=client_credentials',
      )
      // 401 invalid_client (no client authentication) comes from the origin itself.
      expect(token.status, runtime.name).toBe(401)
      expect(JSON.parse(token.body), runtime.name).toMatchObject({ error: 'invalid_client' })
    }
  })
})
