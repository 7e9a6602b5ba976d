/**
 * The browser client's DPoP (RFC 9449) against the real OAuth route group: tokens bound to the
 * origin's key (shared by its tabs, as IndexedDB is), a proof on every API call checked with the
 * edge's own proof checker, nonces handled, and a new key after sign-out.
 */
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { generateDpopKeyPair } from '../../../src/client/dpop-key.ts'
import { checkBoundProof } from '../../../src/core/dpop-binding.ts'
import { createDpopProofChecker } from '../../../src/core/dpop.ts'
import type { AccessTokenClaims } from '../../../src/core/types.ts'
import { createDpopGuard } from '../../../src/http/dpop-guard.ts'
import { requireAuth } from '../../../src/http/require-auth.ts'
import { Hono } from 'hono'
import { API, ISSUER, createHarness, testConfig } from '../oauth/support.ts'
import { createBrowserish, followLogin, signedInTab, until, type Tab } from './tabs.ts'

const tabs: Tab[] = []
const track = (tab: Tab): Tab => (tabs.push(tab), tab)
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.client.close()
})

async function browserish(spa: Record<string, unknown> = {}) {
  const base = await testConfig({ tokens: { refreshGraceSeconds: 0 } })
  const clients = (base.clients ?? []).map((c) => (c.id === 'spa' ? { ...c, ...spa } : c))
  const harness = await createHarness({ config: { ...base, clients } })
  return Object.assign(createBrowserish(harness), { harness })
}

/** An API that checks each request's DPoP proof the way the edge does, and records the key. */
function dpopApi() {
  const checker = createDpopProofChecker()
  const seen: { scheme: string; jkt?: string; status: number }[] = []
  const api = async (request: Request): Promise<Response> => {
    const [scheme, token] = (request.headers.get('authorization') ?? '').split(' ')
    if (scheme !== 'DPoP' || token === undefined) {
      seen.push({ scheme: scheme ?? '', status: 401 })
      return new Response(null, { status: 401 })
    }
    const claims = decodeJwt(token) as AccessTokenClaims
    try {
      const proof = await checkBoundProof(
        checker,
        request.headers,
        { method: request.method, uris: [request.url] },
        token,
        claims,
      )
      seen.push({ scheme, jkt: proof.jkt, status: 200 })
      return Response.json({ ok: true })
    } catch {
      seen.push({ scheme, status: 401 })
      return new Response(null, { status: 401 })
    }
  }
  return { api, seen }
}

describe('DPoP in the browser client', () => {
  it('DPoP client: tokens are bound to the key and every API call carries a proof for itself', async () => {
    const b = await browserish()
    const { api, seen } = dpopApi()
    b.api = api
    const tab = track(await signedInTab(b))
    const token = (await tab.client.getAccessToken())!
    const jkt = (decodeJwt(token)['cnf'] as { jkt: string }).jkt
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const get = await tab.client.fetch('https://api.test/orders?page=1')
    const post = await tab.client.fetch('https://api.test/orders', { method: 'POST', body: 'x' })
    expect([get.status, post.status]).toEqual([200, 200])
    expect(seen).toEqual([
      { scheme: 'DPoP', jkt, status: 200 },
      { scheme: 'DPoP', jkt, status: 200 },
    ])
  })

  it('DPoP client: the private key cannot be exported', async () => {
    const pair = await generateDpopKeyPair()
    expect(pair.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('jwk', pair.privateKey)).rejects.toThrow()
  })

  it('DPoP client: tabs share the key, so one tab refreshes with tokens another obtained', async () => {
    const b = await browserish()
    const first = track(await signedInTab(b))
    const second = track(b.openTab())
    await second.client.start('https://app.test/')
    expect(second.client.state.status).toBe('signed-in')
    // The refresh token is bound to the key; the second tab proves it with the same key.
    expect(await second.client.refresh()).toBe(true)
    await until(
      () => first.client.state.status === 'signed-in' && second.client.state.status === 'signed-in',
      'both tabs signed in',
    )
    const jkts = await Promise.all(
      [first, second].map(async (t) => decodeJwt((await t.client.getAccessToken())!)['cnf']),
    )
    expect(jkts[0]).toEqual(jkts[1])
  })

  it('DPoP client: the nonce flow at /token is handled (use_dpop_nonce, then the retry)', async () => {
    const b = await browserish({ dpopNonce: true })
    const tab = track(await signedInTab(b))
    expect(tab.client.state.status).toBe('signed-in')
    const tokenCalls = b.requests.filter((r) => r.url.endsWith('/token'))
    expect(tokenCalls.length).toBe(2) // refused for the nonce, then accepted
    expect(await tab.client.refresh()).toBe(true) // the handle kept the nonce: one call
    expect(b.requests.filter((r) => r.url.endsWith('/token')).length).toBe(3)
  })

  it('DPoP client: an API demanding resource-server nonces (RFC 9449 §9) answers after one retry, then at once', async () => {
    const b = await browserish()
    // The edge's own middleware, with nonces, over the issuer's JWKS.
    const api = new Hono()
    const dpop = createDpopGuard({ nonceSecret: 'resource-server-nonce-secret-0123456789' })
    api.use(
      '*',
      requireAuth({
        issuer: ISSUER,
        audience: API,
        jwksUrl: `${ISSUER}/.well-known/jwks.json`,
        fetch: b.harness.fetch,
        dpop,
      }),
    )
    api.get('/orders', (c) => c.json({ sub: c.get('auth').claims.sub }))
    const statuses: number[] = []
    b.api = async (request) => {
      const res = await api.fetch(request)
      statuses.push(res.status)
      return res
    }
    const tab = track(await signedInTab(b))
    const first = await tab.client.fetch('https://api.test/orders')
    expect(first.status).toBe(200)
    expect(statuses).toEqual([401, 200]) // use_dpop_nonce, then the retry with the nonce
    const second = await tab.client.fetch('https://api.test/orders')
    expect(second.status).toBe(200)
    expect(statuses).toEqual([401, 200, 200]) // the nonce was kept: no second refusal
  })

  it('DPoP client: sign-out forgets the key; the next sign-in binds to a new one', async () => {
    const b = await browserish()
    const tab = track(await signedInTab(b))
    const before = decodeJwt((await tab.client.getAccessToken())!)['cnf']
    await tab.client.logout()
    const again = track(b.openTab())
    await again.client.start('https://app.test/')
    await again.client.login()
    await again.client.start(await followLogin(b, again))
    const after = decodeJwt((await again.client.getAccessToken())!)['cnf']
    expect(after).toBeDefined()
    expect(after).not.toEqual(before)
  })

  it('DPoP client: with dpop false the tokens stay bearer tokens', async () => {
    const b = await browserish()
    const tab = track(await signedInTab(b, { dpop: false }))
    expect(decodeJwt((await tab.client.getAccessToken())!)['cnf']).toBeUndefined()
  })
})
