/**
 * A relying party's back-channel logout endpoint, for tests: it validates each `logout_token` the way
 * OIDC Back-Channel Logout 1.0 §2.6 tells a relying party to, with jose (signature against the
 * issuer's public keys, `typ: logout+jwt`, `iss`, `aud` = this client, `iat`, `jti`, the logout event,
 * `sub` or `sid`, no `nonce`), answers 200 to a valid one and 400 otherwise, and records both. Its
 * answer can be switched to an outage (503) or a hang, to exercise the issuer's retries. Serve it in
 * process (`handle`) or over real HTTP (`listen`).
 *
 * @example
 * const rp = createLogoutReceiver({ issuer, clientId: 'spa', jwks: publicJwks() })
 * const { url, close } = await rp.listen()
 * await rp.next() // the next valid logout token's claims
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose'

export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

export type ReceiverMode = 'ok' | 'down' | 'hang'

export interface ReceivedLogout {
  /** The claims when the token was valid; undefined otherwise. */
  claims?: JWTPayload
  /** Why it was refused, when it was. */
  error?: string
  /** The token's `jti`, read without verification (bookkeeping: is a retry the same logout?). */
  jti?: string
  /** The status answered (0 for a hung request). */
  status: number
  mode: ReceiverMode
}

export interface LogoutReceiver {
  readonly received: ReceivedLogout[]
  /** How later requests are answered: 200/400 (`ok`), 503 (`down`) or never (`hang`). */
  setMode(mode: ReceiverMode): void
  handle(request: Request): Promise<Response>
  /** Resolves when `count` requests (any outcome) have arrived. */
  waitForRequests(count: number): Promise<void>
  /** Resolves with the claims of the next valid token answered 200. */
  next(): Promise<JWTPayload>
  listen(): Promise<{ url: string; close(): Promise<void> }>
}

export function createLogoutReceiver(options: {
  issuer: string
  clientId: string
  jwks: JSONWebKeySet
  /** The relying party's clock (milliseconds); default `Date.now`. */
  now?: () => number
}): LogoutReceiver {
  const keys = createLocalJWKSet(options.jwks)
  const received: ReceivedLogout[] = []
  let mode: ReceiverMode = 'ok'
  const waiters: (() => void)[] = []
  const notify = () => waiters.splice(0).forEach((w) => w())
  const hung: (() => void)[] = []

  async function validate(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, keys, {
      issuer: options.issuer,
      audience: options.clientId,
      typ: 'logout+jwt',
      requiredClaims: ['iat', 'jti', 'events'],
      // Logout tokens are fresh: a two-minute window is generous on a busy machine.
      maxTokenAge: '2 minutes',
      currentDate: new Date((options.now ?? Date.now)()),
    })
    const events = payload['events'] as Record<string, unknown> | undefined
    if (typeof events !== 'object' || events === null || !(LOGOUT_EVENT in events))
      throw new Error('no logout event')
    if (typeof events[LOGOUT_EVENT] !== 'object') throw new Error('the event is not an object')
    if (payload.sub === undefined && payload['sid'] === undefined) throw new Error('no sub or sid')
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce')
    return payload
  }

  async function handle(request: Request): Promise<Response> {
    const current = mode
    const body = new URLSearchParams(await request.text())
    let jti: string | undefined
    try {
      const claimed = decodeJwt(body.get('logout_token') ?? '').jti
      jti = typeof claimed === 'string' ? claimed : undefined
    } catch {
      jti = undefined
    }
    const record = (r: ReceivedLogout) => {
      received.push(jti === undefined ? r : { ...r, jti })
      notify()
    }
    if (current === 'hang') {
      record({ status: 0, mode: current })
      return new Promise<Response>((resolve) =>
        hung.push(() => resolve(new Response(null, { status: 503 }))),
      )
    }
    if (current === 'down') {
      record({ status: 503, mode: current })
      return new Response(null, { status: 503 })
    }
    const tokens = body.getAll('logout_token')
    const typeOk = request.headers
      .get('content-type')
      ?.startsWith('application/x-www-form-urlencoded')
    try {
      if (request.method !== 'POST' || !typeOk || tokens.length !== 1)
        throw new Error('bad request')
      const claims = await validate(tokens[0]!)
      record({ claims, status: 200, mode: current })
      return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } })
    } catch (e) {
      record({ error: e instanceof Error ? e.message : String(e), status: 400, mode: current })
      return Response.json({ error: 'invalid_request' }, { status: 400 })
    }
  }

  const until = (test: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = () => (test() ? resolve() : waiters.push(check))
      check()
    })

  return {
    received,
    setMode(next) {
      mode = next
      if (next !== 'hang') hung.splice(0).forEach((release) => release())
    },
    handle,
    waitForRequests: (count) => until(() => received.length >= count),
    async next() {
      const start = received.length
      let found: JWTPayload | undefined
      await until(() => {
        found = received.slice(start).find((r) => r.claims)?.claims
        return found !== undefined
      })
      return found!
    },
    async listen() {
      const server: Server = createServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          const headers = new Headers()
          for (const [k, v] of Object.entries(req.headers))
            if (typeof v === 'string') headers.set(k, v)
          const request = new Request(`http://rp.test${req.url ?? '/'}`, {
            method: req.method ?? 'GET',
            headers,
            ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
          })
          void handle(request).then(async (response) => {
            res.writeHead(response.status, Object.fromEntries(response.headers))
            res.end(Buffer.from(await response.arrayBuffer()))
          })
        })
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as AddressInfo
      return {
        url: `http://127.0.0.1:${port}/backchannel-logout`,
        close: () =>
          new Promise<void>((resolve) => {
            hung.splice(0).forEach((release) => release())
            server.closeAllConnections()
            server.close(() => resolve())
          }),
      }
    },
  }
}
