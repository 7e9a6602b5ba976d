// The edge's key source and metadata routes (src/http/edge-keys.ts): the routes are built on first
// use (an edge holds one per tenant it verified for, issue 16) and answer as they always did.
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { GatehouseError } from '../../../src/core/errors.ts'
import {
  discoveryAt,
  keySetStoreKeys,
  parseKeySetDocument,
  publicJwksAt,
} from '../../../src/core/published-key-set.ts'
import { createEdgeKeys } from '../../../src/http/edge-keys.ts'
import { errorHandler } from '../../../src/http/error-response.ts'
import { createJsonLogger } from '../../../src/http/log.ts'
import type { GatehouseEnv } from '../../../src/http/types.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import { tenantKey, tenantKeySetDocument } from '../../shared/tenancy-fixture.ts'

const ISSUER = 'https://auth.example.test/t/acme'
const T0 = 1_900_000_000_000

async function published(prefix = 't:acme:') {
  const store = createMemoryStore({ now: () => T0 })
  const key = await tenantKey('acme-key')
  const text = tenantKeySetDocument(ISSUER, [key], T0)
  await store.set(`${prefix}${keySetStoreKeys(ISSUER).document}`, text)
  const doc = parseKeySetDocument(text)
  if (!doc) throw new Error('fixture document does not parse')
  return { store, key, doc }
}

const rethrow = (error: Error): never => {
  throw error
}

describe('edge keys', () => {
  it('builds the metadata routes on first use, after verification, and they answer discovery and the JWKS as before', async () => {
    const { store, key, doc } = await published()
    const keys = createEdgeKeys({
      issuer: ISSUER,
      store: { get: (k) => store.get(`t:acme:${k}`) },
      now: () => T0,
    })
    // The verifier's use first: the routes' answers come from the same copy.
    expect((await keys.keySet.getKey(key.kid, 'ES256')).kid).toBe(key.kid)
    const routes = keys.routes
    expect(keys.routes).toBe(routes)
    for (const path of [
      '/t/acme/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/t/acme',
      '/t/acme/.well-known/oauth-authorization-server',
    ]) {
      const response = await routes.request(path)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual(discoveryAt(doc, T0 / 1000))
      expect(response.headers.get('cache-control')).toBe(`public, max-age=${doc.cacheSeconds}`)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
    }
    const jwks = await routes.request('/t/acme/.well-known/jwks.json')
    expect(jwks.status).toBe(200)
    expect(await jwks.json()).toEqual(publicJwksAt(doc, T0 / 1000))
    expect((await routes.request('/t/acme/.well-known/jwks.json', { method: 'HEAD' })).status).toBe(
      200,
    )
    const preflight = await routes.request('/t/acme/.well-known/jwks.json', { method: 'OPTIONS' })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
    // Mounted in an app, as the default issuer's are: the app's error handler answers 405.
    const app = new Hono<GatehouseEnv>().route('/', routes)
    app.onError(errorHandler(createJsonLogger({ level: 'silent' }), 'test'))
    const post = await app.request('/t/acme/.well-known/jwks.json', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
  })

  it("with onError, a tenant's 404 and 503 reach the caller's error handler as GatehouseErrors", async () => {
    const { store } = await published('t:other:')
    const absent = createEdgeKeys({
      issuer: ISSUER,
      store: { get: (k) => store.get(`t:acme:${k}`) },
      now: () => T0,
      onError: rethrow,
    })
    const notPublished = await Promise.resolve(
      absent.routes.request('/t/acme/.well-known/jwks.json'),
    ).catch((e: unknown) => e)
    expect(notPublished).toBeInstanceOf(GatehouseError)
    expect(notPublished).toMatchObject({ code: 'metadata_not_published', status: 404 })
    const unreachable = createEdgeKeys({
      issuer: ISSUER,
      store: { get: () => Promise.reject(new Error('L2 down')) },
      now: () => T0,
      onError: rethrow,
    })
    const unavailable = await Promise.resolve(
      unreachable.routes.request('/t/acme/.well-known/openid-configuration'),
    ).catch((e: unknown) => e)
    expect(unavailable).toMatchObject({ code: 'metadata_unavailable', status: 503 })
  })
})
