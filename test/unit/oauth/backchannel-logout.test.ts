/**
 * OIDC Back-Channel Logout 1.0 (issue 21): when a session ends — user logout, "revoke all sessions",
 * a refresh token replayed — every client that had tokens in it gets a signed `logout+jwt`, from a
 * durable queue in L2 with retries, backoff, leases and a bounded number of attempts, never on the
 * user's request path. In process over the memory store with a fake clock; each relying party is a
 * receiver that validates the token with jose (test/support/logout-receiver.ts). The same over real
 * HTTP, real Redis and an origin restart: test/integration/oauth/backchannel-restart.test.ts.
 */
import { decodeJwt } from 'jose'
import type * as oauth from 'oauth4webapi'
import { beforeEach, describe, expect, it } from 'vitest'
import { createBackchannelWorker } from '../../../src/core/oauth/backchannel-worker.ts'
import { backchannelLeaseSeconds } from '../../../src/core/oauth/context.ts'
import { usersRevoke } from '../../../src/cli/revoke.ts'
import { ownKeySet } from '../../../src/core/oauth/own-tokens.ts'
import { createAdminRoutes } from '../../../src/http/admin-routes.ts'
import type { Store } from '../../../src/store/types.ts'
import { publicJwks } from '../../fixtures/keys.ts'
import { createLogoutReceiver, type LogoutReceiver } from '../../support/logout-receiver.ts'
import type { Browser } from './support.ts'
import {
  ISSUER,
  SERVICE_SECRET,
  USER,
  basic,
  createHarness,
  discover,
  obtainCode,
  postForm,
  signIn,
  testConfig,
  type Harness,
} from './support.ts'

const SPA_BCL = 'https://app.test/backchannel-logout'
const SERVICE_BCL = 'https://service.test/backchannel-logout'

let h: Harness
let as: oauth.AuthorizationServer
let spaRp: LogoutReceiver
let serviceRp: LogoutReceiver
let posts: string[]

async function harness(delivery: Record<string, number> = {}): Promise<Harness> {
  const base = await testConfig()
  return createHarness({
    config: {
      clients: base.clients!.map((c) => ({
        ...c,
        backchannelLogoutUri: c.id === 'spa' ? SPA_BCL : SERVICE_BCL,
        ...(c.id === 'spa' ? { backchannelLogoutSessionRequired: true } : {}),
      })),
      backchannelLogout: { maxAttempts: 4, retryBaseSeconds: 2, retryMaxSeconds: 30, ...delivery },
    },
  })
}

/** The origin's worker, wired as src/entry/origin.ts does, POSTing into the in-process receivers. */
function worker(options: { batchSize?: number } = {}) {
  const events: { outcome: string; reason?: string | undefined; clientId: string }[] = []
  const w = createBackchannelWorker({
    queue: h.oauth.backchannel,
    clients: h.oauth.clients,
    signer: h.oauth.signer,
    timeoutMs: 30_000, // never reached by the in-process receivers, even on a busy machine
    pollMs: 60_000,
    ...options,
    fetch: async (input, init) => {
      const request = new Request(input, init)
      posts.push(request.url)
      if (request.url === SPA_BCL) return spaRp.handle(request)
      if (request.url === SERVICE_BCL) return serviceRp.handle(request)
      throw new TypeError('connection refused')
    },
    onEvent: (e) => events.push(e),
  })
  return { w, events }
}

const receiver = (clientId: string) =>
  createLogoutReceiver({ issuer: ISSUER, clientId, jwks: publicJwks(), now: () => h.now() })

beforeEach(async () => {
  h = await harness()
  as = await discover(h)
  spaRp = receiver('spa')
  serviceRp = receiver('service')
  posts = []
})

/** Signs the service client in too, in the same browser session (an SSO second client). */
async function alsoSignInService(browser: Browser): Promise<void> {
  const { code, verifier } = await obtainCode(h, {
    browser,
    clientId: 'service',
    redirectUri: 'https://service.test/cb',
    scope: 'openid read',
  })
  const response = await postForm(
    h,
    '/token',
    {
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'https://service.test/cb',
      code_verifier: verifier,
    },
    { authorization: basic('service', SERVICE_SECRET) },
  )
  expect(response.status).toBe(200)
}

const sidOf = (browser: Browser) => browser.cookies.get('__Host-gatehouse_session')!.split('.')[0]

describe('every client of an ended session is told', () => {
  it('user logout: a valid logout+jwt to each client with tokens, none before the answer', async () => {
    const { tokens, browser } = await signIn(h, as)
    await alsoSignInService(browser)
    const sid = sidOf(browser)
    const { w, events } = worker()
    const response = await browser.logout({ id_token_hint: tokens.id_token! })
    expect(response.status).toBe(200)
    expect(posts).toEqual([]) // the user's answer never waits for a relying party
    expect(await w.runOnce()).toBe(2)
    const [spa] = spaRp.received
    const [service] = serviceRp.received
    expect(spa?.claims).toMatchObject({ iss: ISSUER, aud: 'spa', sub: USER.sub, sid })
    expect(service?.claims).toMatchObject({ iss: ISSUER, aud: 'service', sub: USER.sub, sid })
    expect(spa?.claims?.jti).not.toBe(service?.claims?.jti)
    expect(events.map((e) => e.outcome)).toEqual(['delivered', 'delivered'])
    expect(await w.runOnce()).toBe(0) // delivered once, then gone
  })

  it('a client that had no tokens in the session is not told', async () => {
    const { tokens, browser } = await signIn(h, as)
    const { w } = worker()
    await browser.logout({ id_token_hint: tokens.id_token! })
    expect(await w.runOnce()).toBe(1)
    expect(serviceRp.received).toEqual([])
    expect(spaRp.received).toHaveLength(1)
  })

  it('"revoke all sessions" (CLI) ends every session of the user and tells their clients', async () => {
    const first = await signIn(h, as)
    const second = await signIn(h, as)
    await alsoSignInService(second.browser)
    const { w } = worker()
    const result = await usersRevoke([USER.sub], {}, h.store as Store)
    expect(result).toMatchObject({ sub: USER.sub, sessionsEnded: 2 })
    // The CLI queued by the wall clock; the harness clock started behind it, and real time went on.
    h.advance(Math.max(0, Date.now() - h.now()) + 1)
    for (const t of [first.tokens, second.tokens]) {
      const refreshed = await postForm(h, '/token', {
        grant_type: 'refresh_token',
        refresh_token: t.refresh_token!,
        client_id: 'spa',
      })
      expect(refreshed.status).toBe(400)
    }
    expect(await w.runOnce()).toBe(3)
    expect(spaRp.received.map((r) => r.claims?.['sid']).sort()).toEqual(
      [sidOf(first.browser), sidOf(second.browser)].sort(),
    )
    expect(serviceRp.received.map((r) => r.claims?.['sid'])).toEqual([sidOf(second.browser)])
  })

  it('"revoke all sessions" (admin API) does the same and says how many sessions ended', async () => {
    const { browser } = await signIn(h, as)
    await alsoSignInService(browser)
    const admin = createAdminRoutes({
      issuer: ISSUER,
      keys: ownKeySet(h.oauth.keys),
      revocation: { revokeSubject: async () => Math.floor(Date.now() / 1000) + 1 },
      sessions: h.oauth.sessions,
    })
    const { token } = await h.oauth.signer.accessToken({
      sub: 'ops',
      clientId: 'ops',
      scope: 'gatehouse:admin',
      aud: ISSUER,
    })
    const response = await admin.request(`/admin/users/${USER.sub}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ sub: USER.sub, sessionsEnded: 1 })
    const { w } = worker()
    expect(await w.runOnce()).toBe(2)
    expect(spaRp.received[0]?.claims?.['sid']).toBe(sidOf(browser))
    expect(serviceRp.received[0]?.claims?.['sid']).toBe(sidOf(browser))
  })

  it('a replayed refresh token ends its session and tells every client of it', async () => {
    const { tokens, browser } = await signIn(h, as)
    await alsoSignInService(browser)
    const refresh = (token: string) =>
      postForm(h, '/token', { grant_type: 'refresh_token', refresh_token: token, client_id: 'spa' })
    expect((await refresh(tokens.refresh_token!)).status).toBe(200)
    h.advance(11_000) // past the grace window: a replay is theft (RFC 9700 §4.14.2)
    expect((await refresh(tokens.refresh_token!)).status).toBe(400)
    const { w } = worker()
    expect(await w.runOnce()).toBe(2)
    expect(spaRp.received[0]?.claims?.['sid']).toBe(sidOf(browser))
    expect(serviceRp.received[0]?.claims?.['sid']).toBe(sidOf(browser))
  })
})

describe('delivery: retries with backoff, leases, bounded attempts', () => {
  it('retries an unreachable client with growing delays, with the same jti, until it answers', async () => {
    const { tokens, browser } = await signIn(h, as)
    const { w, events } = worker()
    spaRp.setMode('down')
    await browser.logout({ id_token_hint: tokens.id_token! })
    expect(await w.runOnce()).toBe(1) // attempt 1: 503
    expect(await w.runOnce()).toBe(0) // not due yet: backoff
    h.advance(2_000) // attempt 2 is due within [1 s, 2 s]
    expect(await w.runOnce()).toBe(1)
    h.advance(2_000) // attempt 3 waits [2 s, 4 s]: maybe not yet
    const third = await w.runOnce()
    h.advance(2_000)
    expect(third + (await w.runOnce())).toBe(1)
    spaRp.setMode('ok')
    h.advance(8_000)
    expect(await w.runOnce()).toBe(1)
    expect(events.map((e) => e.outcome)).toEqual(['retry', 'retry', 'retry', 'delivered'])
    expect(events[0]?.reason).toBe('http_503')
    // Every attempt carried the same jti: a relying party deduplicates by it (§2.6).
    expect(new Set(spaRp.received.map((r) => r.jti)).size).toBe(1)
    const delivered = spaRp.received.at(-1)?.claims
    expect(delivered?.['sid']).toBe(decodeJwt(tokens.id_token!)['sid'])
  })

  it('gives up after maxAttempts and keeps a dead letter; a refusal (4xx) is not retried', async () => {
    const { tokens, browser } = await signIn(h, as)
    await alsoSignInService(browser)
    const { w, events } = worker()
    spaRp.setMode('down')
    await browser.logout({ id_token_hint: tokens.id_token! })
    // The service's receiver refuses the token outright: make it expect another audience.
    serviceRp = receiver('not-service')
    for (let i = 0; i < 10; i++) {
      await w.runOnce()
      h.advance(30_000)
    }
    const byClient = (id: string) => events.filter((e) => e.clientId === id).map((e) => e.outcome)
    expect(byClient('spa')).toEqual(['retry', 'retry', 'retry', 'dead'])
    expect(byClient('service')).toEqual(['dead'])
    expect(events.find((e) => e.clientId === 'service')?.reason).toBe('refused_400')
    expect(await w.runOnce()).toBe(0)
  })

  it('a job claimed by an origin that died comes back when its lease ends', async () => {
    const { tokens, browser } = await signIn(h, as)
    await browser.logout({ id_token_hint: tokens.id_token! })
    // An origin claims the job and dies before delivering it.
    expect(await h.oauth.backchannel.claim(10)).toHaveLength(1)
    const { w } = worker()
    expect(await w.runOnce()).toBe(0)
    h.advance(backchannelLeaseSeconds(5) * 1000)
    expect(await w.runOnce()).toBe(1)
    expect(spaRp.received[0]?.claims?.['sid']).toBe(decodeJwt(tokens.id_token!)['sid'])
  })

  it('skips a client whose back-channel URI was removed from the config', async () => {
    const { tokens, browser } = await signIn(h, as)
    await browser.logout({ id_token_hint: tokens.id_token! })
    const base = await testConfig()
    const other = await createHarness({
      store: h.store,
      clock: h.now,
      config: { clients: base.clients },
    })
    const events: string[] = []
    const w = createBackchannelWorker({
      queue: other.oauth.backchannel,
      clients: other.oauth.clients,
      signer: other.oauth.signer,
      timeoutMs: 1000,
      pollMs: 60_000,
      fetch: () => Promise.reject(new Error('must not be called')),
      onEvent: (e) => events.push(`${e.outcome}:${e.reason}`),
    })
    expect(await w.runOnce()).toBe(1)
    expect(events).toEqual(['skipped:no_uri'])
  })

  it('a started worker wakes up when this origin queues a job, and stops cleanly', async () => {
    const { tokens, browser } = await signIn(h, as)
    const { w } = worker()
    w.start()
    try {
      const delivered = spaRp.next()
      await browser.logout({ id_token_hint: tokens.id_token! })
      expect((await delivered)['sid']).toBe(decodeJwt(tokens.id_token!)['sid'])
    } finally {
      await w.stop()
    }
  })
})
