/**
 * DPoP at the edge (RFC 9449 §7), runtime-neutral: the same cases run in-process on Node, through a
 * real @hono/node-server, and inside workerd. Each `start()` builds an app as one edge isolate would
 * have it — its own verifier with its L1 token cache, its own proof checker and L1 replay cache — over
 * one shared L2 (a memory store standing in for Upstash, which can be made unreachable), so "another
 * isolate" is a second app with empty L1s and the same L2. The clock is injected: no sleeping.
 */
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { checkVerificationConfig, parseVerificationConfig } from '../../src/core/config.ts'
import { createDpopNonces } from '../../src/core/dpop-nonce.ts'
import { createDpopProofChecker } from '../../src/core/dpop.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import { createApp } from '../../src/http/app.ts'
import { buildVerifier } from '../../src/http/build-verifier.ts'
import { createDpopGuard } from '../../src/http/dpop-guard.ts'
import { createJsonLogger } from '../../src/http/log.ts'
import { requireAuth, type RequireAuthEnv } from '../../src/http/require-auth.ts'
import type { GatehouseEnv } from '../../src/http/types.ts'
import { StoreError } from '../../src/store/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../fixtures/keys.ts'
import {
  generateProofKey,
  hmacProof,
  makeProof,
  unsecuredProof,
  type ProofKey,
} from '../support/dpop-proofs.ts'

/** How the suite talks to an app: absolute URLs, so `htu` is what the app sees. */
export interface DpopServedApp {
  /** The origin the app is reached at (`http://host:port`), no trailing slash. */
  base: string
  fetch(path: string, init?: RequestInit): Promise<Response>
  close(): Promise<void>
}

export interface DpopHarness {
  serve(app: Hono<GatehouseEnv>): Promise<DpopServedApp>
}

const T0 = 1_900_000_000 // seconds; tokens and proofs are made relative to this clock
const ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const

interface StartOptions {
  policy?: 'open' | 'closed'
  /** Resource-server nonces (RFC 9449 §9) under this secret. */
  nonceSecret?: string
  /** An upstream for gateway mode (an injected fetch, so it runs in workerd too). */
  upstream?: typeof fetch
  extend?: (app: Hono<GatehouseEnv>) => void
}

/**
 * Registers the suite in the caller's `describe`.
 *
 * @example describe('DPoP in-process', () => defineDpopSuite(inProcessDpop))
 */
export function defineDpopSuite(harness: DpopHarness): void {
  let nowMs = T0 * 1000
  const now = () => nowMs
  let l2Down = false
  let l2: Store = createMemoryStore({ now })
  const cleanups: (() => Promise<void>)[] = []

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
    nowMs = T0 * 1000
    l2Down = false
    l2 = createMemoryStore({ now })
  })

  /** The shared L2, unreachable while `l2Down` (as Upstash is in an outage). */
  const sharedStore = (): Pick<Store, 'set'> => ({
    set: async (...args) => {
      if (l2Down) throw new StoreError('unavailable', 'set', 'unreachable')
      return l2.set(...args)
    },
  })

  /** One edge isolate: fresh L1s, the shared L2. */
  async function start(options: StartOptions = {}): Promise<DpopServedApp> {
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
      now,
    })
    const dpop = createDpopGuard({
      store: sharedStore(),
      replayPolicy: options.policy ?? 'open',
      now,
      ...(options.nonceSecret === undefined ? {} : { nonceSecret: options.nonceSecret }),
    })
    const app = createApp({
      role: 'edge',
      verifier,
      dpop,
      logger: createJsonLogger({ level: 'silent' }),
      ...(options.upstream
        ? { gateway: { url: 'https://upstream.test/v1' }, fetch: options.upstream }
        : {}),
      ...(options.extend ? { extend: options.extend } : {}),
    })
    const served = await harness.serve(app)
    cleanups.push(() => served.close())
    return served
  }

  /** Someone's own Hono app: `requireAuth` with `dpop` before GET /orders/mine. */
  async function serveRequireAuth(dpop: ReturnType<typeof createDpopGuard>) {
    const api = new Hono<RequireAuthEnv>()
    const verifier = await buildVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      keySource: { kind: 'inline', jwks: publicJwks() },
      now,
    })
    api.use('/orders/*', requireAuth({ verifier, dpop }))
    api.get('/orders/mine', (c) => c.json({ sub: c.get('auth').claims.sub }))
    const served = await harness.serve(api as unknown as Hono<GatehouseEnv>)
    cleanups.push(() => served.close())
    return served
  }

  const boundToken = (key: ProofKey, claims: Record<string, unknown> = {}) =>
    signTestToken({ cnf: { jkt: key.jkt }, scope: 'read', ...claims }, { now: T0 })

  /** A DPoP request's headers: the token under the DPoP scheme and a proof for `method` `url`. */
  async function dpopHeaders(
    key: ProofKey,
    token: string,
    method: string,
    url: string,
    options: Parameters<typeof makeProof>[2] & { iat?: number; jti?: string; nonce?: string } = {},
  ): Promise<Record<string, string>> {
    const proof = await makeProof(
      key,
      {
        htm: method,
        htu: url,
        accessToken: token,
        iat: options.iat ?? T0,
        ...(options.jti === undefined ? {} : { jti: options.jti }),
        ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
      },
      options,
    )
    return { Authorization: `DPoP ${token}`, DPoP: proof }
  }

  async function expectDpopError(res: Response, status: number, error: string) {
    expect(res.status).toBe(status)
    const challenge = res.headers.get('WWW-Authenticate') ?? ''
    expect(challenge).toMatch(/^DPoP realm="gatehouse", /)
    expect(challenge).toContain(`error="${error}"`)
    expect(challenge).toContain('algs="ES256 ES384 EdDSA RS256 PS256"')
    const body = (await res.json()) as { error: string; error_description: string }
    expect(body.error).toBe(error)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    return body
  }

  describe('admission', () => {
    for (const alg of ALGS) {
      it(`DPoP: a bound token with a valid ${alg} proof is admitted at /verify`, async () => {
        const app = await start()
        const key = await generateProofKey(alg)
        const token = await boundToken(key)
        const res = await app.fetch('/verify', {
          headers: await dpopHeaders(key, token, 'GET', `${app.base}/verify`),
        })
        expect(res.status).toBe(200)
        expect(await res.json()).toMatchObject({ active: true, cnf: { jkt: key.jkt } })
      })
    }

    it('DPoP: the gateway forwards a request with a valid proof, and refuses one without', async () => {
      const forwarded: string[] = []
      const app = await start({
        upstream: async (input) => {
          forwarded.push(new Request(input).url)
          return new Response('created', { status: 201 })
        },
      })
      const key = await generateProofKey()
      const token = await boundToken(key)
      const url = `${app.base}/api/orders?page=2`
      const ok = await app.fetch('/api/orders?page=2', {
        method: 'POST',
        headers: await dpopHeaders(key, token, 'POST', url),
        body: 'x',
      })
      expect(ok.status).toBe(201)
      expect(forwarded).toEqual(['https://upstream.test/v1/orders?page=2'])
      const bare = await app.fetch('/api/orders', { headers: { Authorization: `DPoP ${token}` } })
      await expectDpopError(bare, 401, 'invalid_dpop_proof')
      expect(forwarded).toHaveLength(1)
    })

    it('DPoP: requireAuth in any Hono app checks the proof for its own route', async () => {
      const key = await generateProofKey()
      const token = await boundToken(key)
      const served = await serveRequireAuth(createDpopGuard({ now }))
      const headers = await dpopHeaders(key, token, 'GET', `${served.base}/orders/mine`)
      const res = await served.fetch('/orders/mine', { headers })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ sub: 'user-1' })
      const again = await served.fetch('/orders/mine', { headers })
      await expectDpopError(again, 401, 'invalid_dpop_proof')
      const downgraded = await served.fetch('/orders/mine', {
        headers: { Authorization: `Bearer ${token}` },
      })
      await expectDpopError(downgraded, 401, 'invalid_token')
    })

    it('DPoP: an L1-cached token still needs a fresh proof on every request', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      for (let i = 0; i < 3; i++) {
        const headers = await dpopHeaders(key, token, 'GET', `${app.base}/verify`)
        expect((await app.fetch('/verify', { headers })).status).toBe(200)
      }
      const stale = await app.fetch('/verify', { headers: { Authorization: `DPoP ${token}` } })
      await expectDpopError(stale, 401, 'invalid_dpop_proof')
    })

    it('DPoP: /verify checks a proof made for the original request (X-Original-Method/URL)', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const original = 'https://orders.example/v1/orders/42?expand=items'
      const headers = {
        ...(await dpopHeaders(key, token, 'DELETE', original)),
        'X-Original-Method': 'DELETE',
        'X-Original-URL': original,
      }
      expect((await app.fetch('/verify', { method: 'POST', headers })).status).toBe(200)
      // The same proof for /verify's own URL names another request.
      const own = await dpopHeaders(key, token, 'DELETE', original)
      const res = await app.fetch('/verify', { headers: own })
      await expectDpopError(res, 401, 'invalid_dpop_proof')
      const half = await app.fetch('/verify', {
        headers: { ...own, 'X-Original-Method': 'DELETE' },
      })
      expect(half.status).toBe(400)
    })
  })

  describe('replay (RFC 9449 §11.1)', () => {
    it('DPoP proof replayed at the same isolate is refused', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const headers = await dpopHeaders(key, token, 'GET', `${app.base}/verify`)
      expect((await app.fetch('/verify', { headers })).status).toBe(200)
      const body = await expectDpopError(
        await app.fetch('/verify', { headers }),
        401,
        'invalid_dpop_proof',
      )
      expect(body.error_description).toMatch(/already used/)
    })

    it('DPoP proof replayed at another isolate is refused through L2', async () => {
      const first = await start()
      const second = await start()
      expect(second.base).toBe(first.base)
      const key = await generateProofKey()
      const token = await boundToken(key)
      const headers = await dpopHeaders(key, token, 'GET', `${first.base}/verify`)
      expect((await first.fetch('/verify', { headers })).status).toBe(200)
      await expectDpopError(await second.fetch('/verify', { headers }), 401, 'invalid_dpop_proof')
      // A fresh proof is fine at the second isolate.
      const fresh = await dpopHeaders(key, token, 'GET', `${first.base}/verify`)
      expect((await second.fetch('/verify', { headers: fresh })).status).toBe(200)
    })

    it('DPoP concurrent presentations of one proof at two isolates: exactly one is admitted', async () => {
      const a = await start()
      const b = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const headers = await dpopHeaders(key, token, 'GET', `${a.base}/verify`)
      const statuses = await Promise.all([
        a.fetch('/verify', { headers }),
        b.fetch('/verify', { headers }),
        a.fetch('/verify', { headers }),
        b.fetch('/verify', { headers }),
      ]).then((all) => all.map((r) => r.status))
      expect(statuses.filter((s) => s === 200)).toHaveLength(1)
      expect(statuses.filter((s) => s === 401)).toHaveLength(3)
    })

    it('DPoP replay while L2 is down, policy open: refused here, not caught at another isolate', async () => {
      const first = await start({ policy: 'open' })
      const second = await start({ policy: 'open' })
      const key = await generateProofKey()
      const token = await boundToken(key)
      l2Down = true
      const headers = await dpopHeaders(key, token, 'GET', `${first.base}/verify`)
      expect((await first.fetch('/verify', { headers })).status).toBe(200)
      await expectDpopError(await first.fetch('/verify', { headers }), 401, 'invalid_dpop_proof')
      // The documented gap: another isolate has only its own L1 while L2 is away.
      expect((await second.fetch('/verify', { headers })).status).toBe(200)
    })

    it('DPoP replay check while L2 is down, policy closed: 503 with Retry-After', async () => {
      const app = await start({ policy: 'closed' })
      const key = await generateProofKey()
      const token = await boundToken(key)
      l2Down = true
      const headers = await dpopHeaders(key, token, 'GET', `${app.base}/verify`)
      const res = await app.fetch('/verify', { headers })
      expect(res.status).toBe(503)
      expect(res.headers.get('Retry-After')).toBe('5')
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
      l2Down = false
      // Nothing was spent: the same proof works once L2 is back.
      expect((await app.fetch('/verify', { headers })).status).toBe(200)
    })

    it('DPoP jti is remembered for the whole proof window, then forgotten with the proof', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key, { exp: T0 + 900 })
      const headers = await dpopHeaders(key, token, 'GET', `${app.base}/verify`)
      expect((await app.fetch('/verify', { headers })).status).toBe(200)
      nowMs += 64_000 // inside 60 s + 5 s
      expect((await app.fetch('/verify', { headers })).status).toBe(401)
      nowMs += 2_000 // past the window: the proof is too old, whatever the cache says
      const body = await expectDpopError(
        await app.fetch('/verify', { headers }),
        401,
        'invalid_dpop_proof',
      )
      expect(body.error_description).toMatch(/too old/)
    })
  })

  describe('proof checks (RFC 9449 §4.3)', () => {
    /** Sends a proof made with `overrides` for GET /verify and expects `invalid_dpop_proof`. */
    async function refused(
      make: (key: ProofKey, token: string, url: string) => Promise<string>,
      pattern: RegExp,
    ) {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const proof = await make(key, token, `${app.base}/verify`)
      const res = await app.fetch('/verify', {
        headers: { Authorization: `DPoP ${token}`, DPoP: proof },
      })
      const body = await expectDpopError(res, 401, 'invalid_dpop_proof')
      expect(body.error_description).toMatch(pattern)
    }

    it('DPoP proof with the wrong htu is refused', () =>
      refused(
        (key, token) =>
          makeProof(key, {
            htm: 'GET',
            htu: 'https://elsewhere.test/verify',
            accessToken: token,
            iat: T0,
          }),
        /htu/,
      ))

    it('DPoP proof with the wrong htm is refused', () =>
      refused(
        (key, token, url) => makeProof(key, { htm: 'POST', htu: url, accessToken: token, iat: T0 }),
        /htm/,
      ))

    it('DPoP htu is compared after RFC 3986 normalisation, without query and fragment', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const base = new URL(app.base)
      const port =
        base.port === '' ? (base.protocol === 'https:' ? ':443' : ':80') : `:${base.port}`
      const htu = `${base.protocol.toUpperCase()}//${base.hostname.toUpperCase()}${port}/%76erify?x=1#f`
      const proof = await makeProof(key, { htm: 'GET', htu, accessToken: token, iat: T0 })
      const res = await app.fetch('/verify?y=2', {
        headers: { Authorization: `DPoP ${token}`, DPoP: proof },
      })
      expect(res.status).toBe(200)
    })

    it('DPoP proof with a stale iat is refused', () =>
      refused(
        (key, token, url) =>
          makeProof(key, { htm: 'GET', htu: url, accessToken: token, iat: T0 - 61 }),
        /too old/,
      ))

    it('DPoP proof with an iat in the future is refused', () =>
      refused(
        (key, token, url) =>
          makeProof(key, { htm: 'GET', htu: url, accessToken: token, iat: T0 + 6 }),
        /future/,
      ))

    it('DPoP proof without ath is refused', () =>
      refused((key, _token, url) => makeProof(key, { htm: 'GET', htu: url, iat: T0 }), /ath/))

    it('DPoP proof with the ath of another token is refused', () =>
      refused(
        async (key, _token, url) =>
          makeProof(key, {
            htm: 'GET',
            htu: url,
            accessToken: await boundToken(key, { scope: 'other' }),
            iat: T0,
          }),
        /ath/,
      ))

    it('DPoP proof whose signature is not by the key in its header is refused', () =>
      refused(
        async (key, token, url) =>
          makeProof(
            key,
            { htm: 'GET', htu: url, accessToken: token, iat: T0 },
            { signWith: (await generateProofKey()).privateKey },
          ),
        /signature/,
      ))

    it('DPoP proof with a private key in the header is refused', () =>
      refused(
        (key, token, url) =>
          makeProof(
            key,
            { htm: 'GET', htu: url, accessToken: token, iat: T0 },
            { header: { jwk: key.privateJwk } },
          ),
        /private/,
      ))

    it('DPoP proof with alg none is refused', () =>
      refused(
        (key, token, url) =>
          unsecuredProof(key, { htm: 'GET', htu: url, accessToken: token, iat: T0 }),
        /none|algorithm/,
      ))

    it('DPoP proof MACed with HS256 is refused', () =>
      refused(
        (_key, token, url) => hmacProof({ htm: 'GET', htu: url, accessToken: token, iat: T0 }),
        /algorithm/,
      ))

    it('DPoP proof typed JWT instead of dpop+jwt is refused', () =>
      refused(
        (key, token, url) =>
          makeProof(
            key,
            { htm: 'GET', htu: url, accessToken: token, iat: T0 },
            { header: { typ: 'JWT' } },
          ),
        /typ/,
      ))

    it('DPoP proof without jti is refused', () =>
      refused(
        (key, token, url) =>
          makeProof(key, { htm: 'GET', htu: url, accessToken: token, iat: T0 }, { omit: ['jti'] }),
        /jti/,
      ))

    it('DPoP proof with a jku header is refused', () =>
      refused(
        (key, token, url) =>
          makeProof(
            key,
            { htm: 'GET', htu: url, accessToken: token, iat: T0 },
            { header: { jku: 'https://evil.test/jwks' } },
          ),
        /jku/,
      ))

    it('DPoP: two proofs in one request, or none, are refused', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const one = await dpopHeaders(key, token, 'GET', `${app.base}/verify`)
      const two = new Headers(one)
      two.append('DPoP', (await dpopHeaders(key, token, 'GET', `${app.base}/verify`)).DPoP!)
      await expectDpopError(await app.fetch('/verify', { headers: two }), 401, 'invalid_dpop_proof')
      const none = await app.fetch('/verify', { headers: { Authorization: `DPoP ${token}` } })
      await expectDpopError(none, 401, 'invalid_dpop_proof')
    })
  })

  describe('binding (RFC 9449 §6.1, §7)', () => {
    it('DPoP proof signed by another key than the token is bound to is invalid_token', async () => {
      const app = await start()
      const key = await generateProofKey()
      const thief = await generateProofKey()
      const token = await boundToken(key)
      const res = await app.fetch('/verify', {
        headers: await dpopHeaders(thief, token, 'GET', `${app.base}/verify`),
      })
      const body = await expectDpopError(res, 401, 'invalid_token')
      expect(body.error_description).toMatch(/bound/)
    })

    it('DPoP-bound token presented as Bearer is refused (downgrade, RFC 9449 §7.2)', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const header = await app.fetch('/verify', { headers: { Authorization: `Bearer ${token}` } })
      const body = await expectDpopError(header, 401, 'invalid_token')
      expect(body.error_description).toMatch(/DPoP-bound/)
      // A form-body token is a bearer presentation too (RFC 6750 §2.2).
      const form = await app.fetch('/verify', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `access_token=${token}`,
      })
      await expectDpopError(form, 401, 'invalid_token')
      // Even with its proof alongside: the scheme is what promises possession.
      const withProof = await dpopHeaders(key, token, 'GET', `${app.base}/verify`)
      const mixed = await app.fetch('/verify', {
        headers: { ...withProof, Authorization: `Bearer ${token}` },
      })
      await expectDpopError(mixed, 401, 'invalid_token')
    })

    it('DPoP scheme with an unbound (bearer) token is refused', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await signTestToken({}, { now: T0 })
      const res = await app.fetch('/verify', {
        headers: await dpopHeaders(key, token, 'GET', `${app.base}/verify`),
      })
      const body = await expectDpopError(res, 401, 'invalid_token')
      expect(body.error_description).toMatch(/not DPoP-bound/)
      // The plain bearer token still works as one.
      const bearer = await app.fetch('/verify', { headers: { Authorization: `Bearer ${token}` } })
      expect(bearer.status).toBe(200)
    })

    it('DPoP scheme: an expired token gets the DPoP challenge', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await signTestToken({ cnf: { jkt: key.jkt } }, { now: T0 - 400 })
      const res = await app.fetch('/verify', {
        headers: await dpopHeaders(key, token, 'GET', `${app.base}/verify`),
      })
      await expectDpopError(res, 401, 'invalid_token')
    })

    it('DPoP: a token bound by a confirmation method we cannot check is refused', async () => {
      const app = await start()
      const token = await signTestToken({ cnf: { 'x5t#S256': 'abc' } }, { now: T0 })
      const res = await app.fetch('/verify', { headers: { Authorization: `Bearer ${token}` } })
      expect(res.status).toBe(401)
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer .*error="invalid_token"/)
    })
  })

  describe('server nonces (RFC 9449 §8, §9)', () => {
    it('DPoP nonce flow: no nonce, then the server nonce, then a nonce of a past period', async () => {
      const nonces = createDpopNonces({
        secret: async () => new Uint8Array(32).fill(7),
        now,
      })
      const checker = createDpopProofChecker({ now })
      const key = await generateProofKey()
      const request = {
        method: 'POST',
        uris: ['https://issuer.test/token'],
        nonce: (value: string) => nonces.isValid(value),
      }
      const claims = { htm: 'POST', htu: 'https://issuer.test/token' }
      await expect(
        checker.check(await makeProof(key, { ...claims, iat: T0 }), request),
      ).rejects.toMatchObject({ code: 'dpop_nonce_required', rfcError: 'use_dpop_nonce' })
      const nonce = await nonces.current()
      const ok = await checker.check(await makeProof(key, { ...claims, iat: T0, nonce }), request)
      expect(ok.jkt).toBe(key.jkt)
      nowMs += 300_000 // the next period: the previous nonce is still good
      const later = Math.floor(nowMs / 1000)
      await expect(
        checker.check(await makeProof(key, { ...claims, iat: later, nonce }), request),
      ).resolves.toMatchObject({ jkt: key.jkt })
      nowMs += 300_000 // two periods on: it is not
      const latest = Math.floor(nowMs / 1000)
      await expect(
        checker.check(await makeProof(key, { ...claims, iat: latest, nonce }), request),
      ).rejects.toMatchObject({ code: 'dpop_nonce_required' })
      const forged = `${nonce.split('.')[0]}.${'A'.repeat(22)}`
      await expect(
        checker.check(await makeProof(key, { ...claims, iat: latest, nonce: forged }), request),
      ).rejects.toMatchObject({ code: 'dpop_nonce_required' })
    })
  })

  describe('resource-server nonces (RFC 9449 §9)', () => {
    const SECRET = 'edge-nonce-secret-0123456789abcdefghijklmnop'
    const NONCE = /^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/

    /** The first answer to a proof without a nonce: 401 use_dpop_nonce, and the nonce to use. */
    async function nonceFrom(res: Response): Promise<string> {
      await expectDpopError(res, 401, 'use_dpop_nonce')
      const nonce = res.headers.get('DPoP-Nonce')
      expect(nonce).toMatch(NONCE)
      return nonce!
    }

    it('DPoP nonce at /verify: 401 use_dpop_nonce with DPoP-Nonce, then admitted with it; nothing spent before', async () => {
      const app = await start({ nonceSecret: SECRET })
      const key = await generateProofKey()
      const token = await boundToken(key)
      const url = `${app.base}/verify`
      const jti = 'first-try'
      const nonce = await nonceFrom(
        await app.fetch('/verify', { headers: await dpopHeaders(key, token, 'GET', url, { jti }) }),
      )
      // The refused proof's jti was not recorded: the retry may reuse it, with the nonce.
      const headers = await dpopHeaders(key, token, 'GET', url, { jti, nonce })
      const ok = await app.fetch('/verify', { headers })
      expect(ok.status).toBe(200)
      expect(ok.headers.get('DPoP-Nonce')).toBe(nonce)
      expect(await ok.json()).toMatchObject({ active: true, cnf: { jkt: key.jkt } })
      // A nonce does not make a proof reusable.
      await expectDpopError(await app.fetch('/verify', { headers }), 401, 'invalid_dpop_proof')
    })

    it('DPoP nonce handed out by one isolate is accepted at another with the same secret, not with another', async () => {
      const first = await start({ nonceSecret: SECRET })
      const second = await start({ nonceSecret: SECRET })
      const stranger = await start({ nonceSecret: `${SECRET}-other` })
      const key = await generateProofKey()
      const token = await boundToken(key)
      const url = `${first.base}/verify`
      const nonce = await nonceFrom(
        await first.fetch('/verify', { headers: await dpopHeaders(key, token, 'GET', url) }),
      )
      const at = async (app: DpopServedApp) =>
        app.fetch('/verify', { headers: await dpopHeaders(key, token, 'GET', url, { nonce }) })
      expect((await at(second)).status).toBe(200)
      const refused = await at(stranger)
      expect(await nonceFrom(refused)).not.toBe(nonce)
    })

    it('DPoP nonce of the previous period is accepted and refreshed; two periods old or forged is use_dpop_nonce', async () => {
      const app = await start({ nonceSecret: SECRET })
      const key = await generateProofKey()
      const token = await boundToken(key, { exp: T0 + 3600 })
      const url = `${app.base}/verify`
      const iat = () => Math.floor(nowMs / 1000)
      const call = async (nonce: string) =>
        app.fetch('/verify', {
          headers: await dpopHeaders(key, token, 'GET', url, { nonce, iat: iat() }),
        })
      const nonce = await nonceFrom(
        await app.fetch('/verify', { headers: await dpopHeaders(key, token, 'GET', url) }),
      )
      nowMs += 300_000 // the next period: still good, and the answer hands out the new nonce
      const next = await call(nonce)
      expect(next.status).toBe(200)
      const renewed = next.headers.get('DPoP-Nonce')
      expect(renewed).toMatch(NONCE)
      expect(renewed).not.toBe(nonce)
      nowMs += 300_000 // two periods on: the first nonce is refused, the renewed one is good
      expect(await nonceFrom(await call(nonce))).not.toBe(nonce)
      expect((await call(renewed!)).status).toBe(200)
      const forged = `${renewed!.split('.')[0]}.${'A'.repeat(22)}`
      await nonceFrom(await call(forged))
    })

    it('DPoP nonce at the gateway: use_dpop_nonce before forwarding, then the upstream answer carries DPoP-Nonce', async () => {
      const forwarded: string[] = []
      const app = await start({
        nonceSecret: SECRET,
        upstream: async (input) => {
          forwarded.push(new Request(input).url)
          return new Response('ok', { status: 200 })
        },
      })
      const key = await generateProofKey()
      const token = await boundToken(key)
      const url = `${app.base}/api/orders`
      const nonce = await nonceFrom(
        await app.fetch('/api/orders', { headers: await dpopHeaders(key, token, 'GET', url) }),
      )
      expect(forwarded).toEqual([])
      const ok = await app.fetch('/api/orders', {
        headers: await dpopHeaders(key, token, 'GET', url, { nonce }),
      })
      expect(ok.status).toBe(200)
      expect(await ok.text()).toBe('ok')
      expect(ok.headers.get('DPoP-Nonce')).toBe(nonce)
      expect(forwarded).toEqual(['https://upstream.test/v1/orders'])
    })

    it('DPoP nonce in requireAuth: a guard with nonceSecret demands it; bearer tokens are untouched', async () => {
      const key = await generateProofKey()
      const token = await boundToken(key)
      const served = await serveRequireAuth(createDpopGuard({ now, nonceSecret: SECRET }))
      const url = `${served.base}/orders/mine`
      const nonce = await nonceFrom(
        await served.fetch('/orders/mine', { headers: await dpopHeaders(key, token, 'GET', url) }),
      )
      const ok = await served.fetch('/orders/mine', {
        headers: await dpopHeaders(key, token, 'GET', url, { nonce }),
      })
      expect(ok.status).toBe(200)
      expect(ok.headers.get('DPoP-Nonce')).toBe(nonce)
      expect(await ok.json()).toEqual({ sub: 'user-1' })
      const bearer = await served.fetch('/orders/mine', {
        headers: { Authorization: `Bearer ${await signTestToken({ scope: 'read' }, { now: T0 })}` },
      })
      expect(bearer.status).toBe(200)
      expect(bearer.headers.get('DPoP-Nonce')).toBeNull()
      expect(() => createDpopGuard({ nonceSecret: 'short' })).toThrow(RangeError)
    })

    it('DPoP nonce from configuration: GATEHOUSE_DPOP_NONCE_SECRET makes /verify demand it; too short is refused', async () => {
      const env = {
        GATEHOUSE_ISSUER: TEST_ISSUER,
        GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
        GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
        GATEHOUSE_DPOP_NONCE_SECRET: SECRET,
      }
      const problems = checkVerificationConfig({ ...env, GATEHOUSE_DPOP_NONCE_SECRET: 'short' })
      expect(problems.issues.map((i) => i.field)).toEqual(['GATEHOUSE_DPOP_NONCE_SECRET'])
      const app = await appFromConfig(parseVerificationConfig(env), {
        role: 'edge',
        logger: createJsonLogger({ level: 'silent' }),
        now,
        dpopStore: sharedStore(),
      })
      const served = await harness.serve(app)
      cleanups.push(() => served.close())
      const key = await generateProofKey()
      const token = await boundToken(key)
      const url = `${served.base}/verify`
      const nonce = await nonceFrom(
        await served.fetch('/verify', { headers: await dpopHeaders(key, token, 'GET', url) }),
      )
      // Another isolate configured with the same secret handed it out: it is good here too.
      const elsewhere = await start({ nonceSecret: SECRET })
      const there = await elsewhere.fetch('/verify', {
        headers: await dpopHeaders(key, token, 'GET', url, { nonce }),
      })
      expect(there.status).toBe(200)
      const ok = await served.fetch('/verify', {
        headers: await dpopHeaders(key, token, 'GET', url, { nonce }),
      })
      expect(ok.status).toBe(200)
    })

    it('DPoP without a nonce secret: no nonce is asked for or handed out', async () => {
      const app = await start()
      const key = await generateProofKey()
      const token = await boundToken(key)
      const res = await app.fetch('/verify', {
        headers: await dpopHeaders(key, token, 'GET', `${app.base}/verify`),
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('DPoP-Nonce')).toBeNull()
    })
  })
}
