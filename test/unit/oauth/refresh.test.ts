/**
 * Refresh-token rotation (RFC 9700 §4.14.2) through /token: rotation on every use, the grace window
 * in which a concurrent replay gets the same successor (two tabs), theft detection after the window
 * (whole family revoked, including its access tokens), client binding and scope narrowing.
 */
import type * as oauth from 'oauth4webapi'
import { decodeJwt } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import type { OAuthStore } from '../../../src/core/oauth/store.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import {
  ISSUER,
  SERVICE_SECRET,
  basic,
  createHarness,
  discover,
  postForm,
  signIn,
  type Harness,
} from './support.ts'

let h: Harness
let as: oauth.AuthorizationServer
beforeEach(async () => {
  h = await createHarness()
  as = await discover(h)
})

const refresh = (token: string, extra: Record<string, string> = {}) =>
  postForm(h, '/token', {
    grant_type: 'refresh_token',
    refresh_token: token,
    client_id: 'spa',
    ...extra,
  })

const userinfoStatus = async (accessToken: string) =>
  (await h.fetch(`${ISSUER}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } }))
    .status

describe('refresh rotation', () => {
  it('rotates on every use; the old token works again only within the grace window', async () => {
    const { tokens } = await signIn(h, as)
    const first = await refresh(tokens.refresh_token!)
    expect(first.status).toBe(200)
    expect(first.headers.get('cache-control')).toBe('no-store')
    expect(first.headers.get('pragma')).toBe('no-cache')
    const body = (await first.json()) as { refresh_token: string; access_token: string }
    expect(body.refresh_token).not.toBe(tokens.refresh_token)
    const second = (await (await refresh(body.refresh_token)).json()) as { refresh_token: string }
    expect(second.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('two concurrent refreshes with the same token both succeed with the same successor', async () => {
    const { tokens } = await signIn(h, as)
    const [a, b] = await Promise.all([
      refresh(tokens.refresh_token!),
      refresh(tokens.refresh_token!),
    ])
    expect(a.status).toBe(200)
    expect(b.status).toBe(200)
    const [ja, jb] = (await Promise.all([a.json(), b.json()])) as {
      refresh_token: string
      access_token: string
    }[]
    expect(ja!.refresh_token).toBe(jb!.refresh_token)
    expect(ja!.access_token).not.toBe(jb!.access_token)
    // The shared successor keeps working for both tabs.
    expect((await refresh(ja!.refresh_token)).status).toBe(200)
  })

  it('a replay just inside the 10 s window returns the same successor', async () => {
    const { tokens } = await signIn(h, as)
    const a = (await (await refresh(tokens.refresh_token!)).json()) as { refresh_token: string }
    h.advance(10_000)
    const b = (await (await refresh(tokens.refresh_token!)).json()) as { refresh_token: string }
    expect(b.refresh_token).toBe(a.refresh_token)
  })

  it('a replay after the window revokes the whole family and its access tokens', async () => {
    const { tokens } = await signIn(h, as)
    const a = (await (await refresh(tokens.refresh_token!)).json()) as {
      refresh_token: string
      access_token: string
    }
    expect(await userinfoStatus(a.access_token)).toBe(200)
    h.advance(10_001)
    const replay = await refresh(tokens.refresh_token!)
    expect(replay.status).toBe(400)
    expect(await replay.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'The refresh token is invalid, expired or revoked.',
    })
    // The legitimate successor is dead too, and so are the family's access tokens.
    expect((await refresh(a.refresh_token)).status).toBe(400)
    expect(await userinfoStatus(a.access_token)).toBe(401)
    expect(await userinfoStatus(tokens.access_token)).toBe(401)
  })

  it('is bound to the client it was issued to (RFC 6749 §6)', async () => {
    const { tokens } = await signIn(h, as)
    const other = await postForm(
      h,
      '/token',
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      { authorization: basic('service', SERVICE_SECRET) },
    )
    expect(other.status).toBe(400)
    expect(await other.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await refresh(tokens.refresh_token!)).status).toBe(200)
  })

  it('may narrow the scope but never widen it', async () => {
    const { tokens } = await signIn(h, as, { scope: 'openid read' })
    const narrowed = (await (await refresh(tokens.refresh_token!, { scope: 'read' })).json()) as {
      access_token: string
      refresh_token: string
      scope: string
    }
    expect(narrowed.scope).toBe('read')
    expect(decodeJwt(narrowed.access_token)['scope']).toBe('read')
    const widened = await refresh(narrowed.refresh_token, { scope: 'read email' })
    expect(widened.status).toBe(400)
    expect(await widened.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it('expires with the family lifetime', async () => {
    const { tokens } = await signIn(h, as)
    h.advance(30 * 86_400_000 + 1)
    expect((await refresh(tokens.refresh_token!)).status).toBe(400)
  })

  it('never stores a usable refresh token (only digests and sealed successors)', async () => {
    const written: string[] = []
    let now = Date.now()
    const inner = createMemoryStore({ now: () => now })
    const store: OAuthStore = {
      ...inner,
      get: (k) => inner.get(k),
      delete: (...k) => inner.delete(...k),
      take: (k) => inner.take(k),
      increment: (k, t) => inner.increment(k, t),
      appendToStream: (s2, f) => inner.appendToStream(s2, f),
      set: (k, v, o) => (written.push(k, v), inner.set(k, v, o)),
      compareAndSwap: (k, e, n, o) => (written.push(k, n ?? ''), inner.compareAndSwap(k, e, n, o)),
    }
    const rec = await createHarness({ store, clock: () => now })
    const recAs = await discover(rec)
    const { tokens } = await signIn(rec, recAs)
    const response = await postForm(rec, '/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: 'spa',
    })
    const body = (await response.json()) as { refresh_token: string }
    now += 1000
    const dump = written.join('\n')
    expect(written.length).toBeGreaterThan(5)
    expect(dump).not.toContain(tokens.refresh_token)
    expect(dump).not.toContain(body.refresh_token)
  })
})
