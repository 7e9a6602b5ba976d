/**
 * Fuzzing every HTTP endpoint of the origin and the edge (fast-check, in-process `app.request()`):
 * methods, paths, query strings, headers (Authorization in every scheme, Content-Type, Cookie,
 * traceparent, X-Request-Id, Origin), form / JSON / raw bodies with duplicated and hostile parameters,
 * and mutations of real tokens, codes and cookies. Properties: never a 5xx (the memory store cannot
 * fail, so any 5xx is a bug), never a crash or an unhandled rejection, no `error` log record, error
 * bodies carry a registered OAuth / Bearer error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1,
 * RFC 8707 §2), a 401 after Basic or Bearer authentication carries `WWW-Authenticate` (RFC 6749 §5.2,
 * RFC 6750 §3), and no response echoes the credential it was sent.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ISSUER, SERVICE_SECRET, basic } from '../unit/oauth/support.ts'
import { buildFuzzTarget, type FuzzTarget } from './apps.ts'

/** Keeps the suite near ~10 s on two cores; raise locally (FUZZ_RUNS=30000) to dig deeper. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000)

// RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2, plus our 404/413 codes.
const ERROR_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'invalid_target',
  'invalid_token',
  'insufficient_scope',
  'access_denied',
  'unsupported_response_type',
  'not_found',
  'login_required',
])

const CLIENT_AUTH = new Set(['/token', '/revoke', '/introspect'])

let target: FuzzTarget
const rejections: unknown[] = []
const onRejection = (reason: unknown) => void rejections.push(reason)

beforeAll(async () => {
  process.on('unhandledRejection', onRejection)
  target = await buildFuzzTarget()
})

afterAll(() => {
  process.off('unhandledRejection', onRejection)
})

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
})
const hostile = fc.constantFrom(
  '',
  ' ',
  'null',
  '%',
  '%zz',
  '%00',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  '{"a":1}',
  '[]',
  '=',
  '&&',
  'a'.repeat(5000),
  'Bearer',
  'Basic',
  'é',
)
/** A real token with one character changed, cut short, or its segments shuffled. */
const mutated = (token: () => string) =>
  fc.tuple(fc.nat(), fc.constantFrom('flip', 'cut', 'swap', 'dot', 'pad')).map(([n, how]) => {
    const t = token()
    const i = n % t.length
    if (how === 'flip') return t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1)
    if (how === 'cut') return t.slice(0, i)
    if (how === 'swap') return t.split('.').reverse().join('.')
    if (how === 'dot') return `${t}.`
    return `${t}=`
  })
const credential = fc.oneof(
  fc.constant(null).map(() => target.accessToken),
  fc.constant(null).map(() => target.refreshToken),
  mutated(() => target.accessToken),
  mutated(() => target.refreshToken),
  printable,
  hostile,
)
const value = fc.oneof(
  credential,
  fc.constantFrom(
    'spa',
    'service',
    SERVICE_SECRET,
    'https://app.test/callback',
    'https://api.test',
    'authorization_code',
    'refresh_token',
    'client_credentials',
    'password',
    'code',
    'S256',
    'plain',
    'openid read',
    'access_token',
    'refresh_token',
  ),
)
const PARAMS = [
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'client_id',
  'client_secret',
  'refresh_token',
  'scope',
  'resource',
  'audience',
  'token',
  'token_type_hint',
  'access_token',
  'response_type',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'username',
  'password',
  'csrf_token',
  'id_token_hint',
  'post_logout_redirect_uri',
]
const pairs = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMS), printable), value), {
  maxLength: 8,
})
const authorization = fc.oneof(
  credential.map((t) => `Bearer ${t}`),
  fc.constantFrom(
    basic('service', SERVICE_SECRET),
    basic('spa', ''),
    'Basic',
    'Bearer',
    'bearer  x',
  ),
  fc.tuple(printable, printable).map(([id, secret]) => basic(id, secret)),
  printable.map((s) => `Basic ${s}`),
  printable,
)
const cookie = fc.oneof(
  fc.constant(null).map(() => target.sessionCookie),
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom('__Host-gh_session', 'gh_csrf'), printable), value))
    .map((cs) =>
      cs.map(([k, v]) => `${k.replace(/[;=,\s]/g, '')}=${v.replace(/[;,\s]/g, '')}`).join('; '),
    ),
  printable,
)
const headers = fc.record(
  {
    authorization,
    'content-type': fc.constantFrom(
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded; charset=utf-8',
      'application/x-www-form-urlencoded; charset=latin1',
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      'garbage',
    ),
    cookie,
    origin: fc.constantFrom('https://app.test', 'null', 'https://evil.test'),
    traceparent: fc.oneof(
      printable,
      fc.constant('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
    ),
    'x-request-id': printable,
    'cf-connecting-ip': fc.oneof(printable, fc.ipV4(), fc.ipV6()),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
  },
  { requiredKeys: [] },
)
const body = fc.oneof(
  fc.constant(undefined),
  pairs.map((p) => new URLSearchParams(p).toString()),
  pairs.map((p) => JSON.stringify(Object.fromEntries(p))),
  printable,
)
const PATHS = [
  '/token',
  '/revoke',
  '/introspect',
  '/userinfo',
  '/authorize',
  '/login',
  '/logout',
  '/verify',
  '/healthz',
  '/readyz',
  '/metrics',
  '/revocation/status',
  '/.well-known/jwks.json',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
]
const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
  { weight: 1, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PATHS), printable).map(([p, s]) => p + s) },
)
const method = fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD')
const request = fc.record({
  app: fc.constantFrom('origin', 'edge'),
  method,
  path,
  query: pairs,
  headers,
  body,
})

type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never

function toRequest(g: Generated): Request | undefined {
  const url = new URL(ISSUER)
  try {
    url.pathname = g.path
  } catch {
    return undefined
  }
  url.search = new URLSearchParams(g.query).toString()
  const h = new Headers()
  for (const [k, v] of Object.entries(g.headers)) {
    try {
      h.set(k, v)
    } catch {
      // A value fetch's Headers refuses (it never reaches a server either).
    }
  }
  const init: RequestInit = { method: g.method, headers: h }
  if (g.body !== undefined && g.method !== 'GET' && g.method !== 'HEAD') init.body = g.body
  return new Request(url, init)
}

async function check(g: Generated): Promise<void> {
  const req = toRequest(g)
  if (!req) return
  const sentAuthorization = req.headers.get('authorization') ?? ''
  const response = await (g.app === 'origin' ? target.origin : target.edge)(req)
  const text = await response.text()
  const where = `${g.app} ${g.method} ${new URL(req.url).pathname} -> ${response.status}`
  expect(response.status, where).toBeGreaterThanOrEqual(200)
  expect(response.status, where).toBeLessThan(500)
  const json = (response.headers.get('content-type') ?? '').includes('json') && text !== ''
  if (response.status >= 400 && json) {
    const error = (JSON.parse(text) as { error?: unknown }).error
    expect(ERROR_CODES.has(String(error)), `${where} error=${String(error)}`).toBe(true)
  }
  // RFC 6750 §3: a protected resource's 401 carries a Bearer challenge; RFC 6749 §5.2: a client that
  // authenticated with Basic gets a Basic challenge with its 401.
  const pathname = new URL(req.url).pathname
  const challenge = response.headers.get('www-authenticate') ?? ''
  if (response.status === 401 && (pathname === '/verify' || pathname === '/userinfo'))
    expect(challenge, where).toMatch(/^Bearer /)
  if (response.status === 401 && /^Basic /i.test(sentAuthorization) && CLIENT_AUTH.has(pathname))
    expect(challenge, where).toMatch(/^Basic /)
  // A credential is never echoed back (tokens are long enough that a chance match cannot happen).
  const sent = sentAuthorization.replace(/^\S+\s+/, '')
  if (sent.length >= 40) expect(text.includes(sent), where).toBe(false)
}

describe('fuzz: every endpoint of the origin and the edge', () => {
  it('answers every request without a 5xx, with RFC error codes and challenges', async () => {
    await fc.assert(fc.asyncProperty(request, check), { numRuns: RUNS * 8 })
  })

  it('token endpoint: any grant and parameter mix is a 200 or an RFC 6749 §5.2 error', async () => {
    const grant = fc.record({
      app: fc.constantFrom('origin', 'edge'),
      method: fc.constant('POST'),
      path: fc.constant('/token'),
      query: fc.constant([] as [string, string][]),
      headers: fc.record(
        {
          authorization,
          'content-type': fc.constant('application/x-www-form-urlencoded'),
        },
        { requiredKeys: ['content-type'] },
      ),
      body: fc
        .tuple(
          fc.constantFrom(
            'authorization_code',
            'refresh_token',
            'client_credentials',
            'password',
            'x',
          ),
          pairs,
        )
        .map(([type, rest]) => new URLSearchParams([['grant_type', type], ...rest]).toString()),
    })
    await fc.assert(fc.asyncProperty(grant, check), { numRuns: RUNS * 2 })
  })

  it('verify, userinfo and introspect: any bearer credential is 200 or a Bearer challenge', async () => {
    const bearer = fc.record({
      app: fc.constantFrom('origin', 'edge'),
      method: fc.constantFrom('GET', 'POST'),
      path: fc.constantFrom('/verify', '/userinfo', '/introspect', '/revoke'),
      query: fc.constant([] as [string, string][]),
      headers: fc.record({ authorization }, { requiredKeys: ['authorization'] }),
      body: fc.oneof(
        fc.constant(undefined),
        credential.map((t) => new URLSearchParams({ token: t, access_token: t }).toString()),
      ),
    })
    await fc.assert(fc.asyncProperty(bearer, check), { numRuns: RUNS * 2 })
  })

  it('left no unhandled rejection and no error log record behind', () => {
    expect(rejections).toEqual([])
    const errors = target.logs.filter((r) => r.level === 'error')
    expect(
      errors.map((r) => `${r.msg} ${String(r.errorName ?? '')} ${String(r.at ?? '')}`),
    ).toEqual([])
  })
})
