/**
 * The edge's keys and metadata (issue 12, edge availability; docs/keys.md): verification keys, the
 * JWKS and discovery come from the key set the origins publish in L2 (src/core/published-key-set.ts),
 * cached per isolate; the origin is asked only while L2 has nothing for this issuer. The JWKS and
 * discovery carry the set's `cacheSeconds` as `max-age`, like the origin's own.
 *
 * @example
 * const keys = createEdgeKeys({ issuer, store, fallback: remoteKeySet, originUrl })
 * const verifier = await buildVerifier({ ..., keySet: keys.keySet })
 * app.route('/', keys.routes)
 */
import { Hono, type Context } from 'hono'
import type { KeySet } from '../core/jwks.ts'
import {
  createPublishedKeySource,
  type KeySourceStatus,
  type PublishedKeySource,
} from '../core/published-key-source.ts'
import { discoveryAt, keySetStoreKeys, publicJwksAt } from '../core/published-key-set.ts'
import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import type { GatehouseEnv } from './types.ts'

/** Seconds a client should wait when neither L2 nor the origin can give the metadata. */
const RETRY_AFTER_SECONDS = 5

export interface EdgeKeysOptions {
  issuer: string
  store: Pick<Store, 'get'>
  /** The configured key source (origin JWKS URL or inline set), used while L2 has nothing. */
  fallback?: KeySet
  /** Where discovery and the JWKS are fetched from while L2 has nothing (GATEHOUSE_ORIGIN_URL). */
  originUrl?: string
  originTimeoutMs?: number
  fetch?: typeof fetch
  now?: Clock
  /** L2 key prefix (a tenant, issue 16). */
  prefix?: string
}

export interface EdgeKeys {
  keySet: PublishedKeySource
  /** JWKS and discovery at the issuer's well-known paths. */
  routes: Hono<GatehouseEnv>
  status(): KeySourceStatus
}

export function createEdgeKeys(options: EdgeKeysOptions): EdgeKeys {
  const now = options.now ?? (() => Date.now())
  const documentKey = keySetStoreKeys(options.issuer, options.prefix).document
  const keySet = createPublishedKeySource({
    issuer: options.issuer,
    read: () => options.store.get(documentKey),
    ...(options.fallback ? { fallback: options.fallback } : {}),
    now,
  })
  const base = URL.canParse(options.issuer)
    ? new URL(options.issuer).pathname.replace(/\/+$/, '')
    : ''
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))

  const unavailable = (c: Context<GatehouseEnv>) => {
    c.set('errorCode', 'metadata_unavailable')
    return c.json(
      {
        error: 'temporarily_unavailable',
        error_description: 'the key set is temporarily unavailable; retry later',
      },
      503,
      { 'Cache-Control': 'no-store', 'Retry-After': String(RETRY_AFTER_SECONDS) },
    )
  }

  /** L2 has nothing for us: relay the origin's copy (GET only, under a deadline), else 503. */
  async function fromOrigin(c: Context<GatehouseEnv>): Promise<Response> {
    if (options.originUrl === undefined) return unavailable(c)
    const target = new URL(options.originUrl)
    target.pathname = target.pathname.replace(/\/+$/, '') + c.req.path
    try {
      const response = await doFetch(target, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(options.originTimeoutMs ?? 5000),
        redirect: 'manual',
      })
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {})
        return unavailable(c)
      }
      return new Response(await response.arrayBuffer(), {
        status: 200,
        headers: {
          'Content-Type': 'application/json',
          'Cache-Control': response.headers.get('cache-control') ?? 'no-store',
          'Access-Control-Allow-Origin': '*',
        },
      })
    } catch {
      return unavailable(c)
    }
  }

  const publicHeaders = (cacheSeconds: number) => ({
    'Cache-Control': `public, max-age=${cacheSeconds}`,
    'Access-Control-Allow-Origin': '*',
  })

  async function discovery(c: Context<GatehouseEnv>): Promise<Response> {
    const doc = await keySet.document()
    const metadata = doc && discoveryAt(doc, now() / 1000)
    if (!doc || !metadata) return fromOrigin(c)
    return c.json(metadata, 200, publicHeaders(doc.cacheSeconds))
  }

  async function jwks(c: Context<GatehouseEnv>): Promise<Response> {
    const doc = await keySet.document()
    if (!doc) return fromOrigin(c)
    return c.json(publicJwksAt(doc, now() / 1000), 200, publicHeaders(doc.cacheSeconds))
  }

  const routes = new Hono<GatehouseEnv>()
  routes.get(`${base}/.well-known/openid-configuration`, discovery)
  // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes before the path.
  routes.get(`/.well-known/oauth-authorization-server${base}`, discovery)
  if (base !== '') routes.get(`${base}/.well-known/oauth-authorization-server`, discovery)
  routes.get(`${base}/.well-known/jwks.json`, jwks)
  return { keySet, routes, status: () => keySet.status() }
}
