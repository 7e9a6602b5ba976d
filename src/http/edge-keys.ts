/**
 * The edge's keys and metadata (issue 12, edge availability; docs/keys.md): verification keys, the
 * JWKS and discovery come from the key set the origins publish in L2 (src/core/published-key-set.ts),
 * one document written atomically with each rotation, cached per isolate (L1). Discovery and the JWKS
 * are never forwarded to the origin, so they and verification stay up through an origin outage. For
 * verification only, the configured key source (GATEHOUSE_JWKS_URL or GATEHOUSE_JWKS) is used while L2
 * has no set for this issuer. The JWKS and discovery carry the set's `cacheSeconds` as `max-age`, like
 * the origin's own.
 *
 * Answers at the well-known paths: 200 from the set (a stale copy while L2 is unreachable, which
 * `/revocation/status` reports); 503 + `Retry-After` when L2 cannot be read and this isolate has no
 * copy; 404 when L2 answers that no set is published for this issuer (not ours to describe); 405 +
 * `Allow` for methods other than GET, HEAD and OPTIONS.
 *
 * @example
 * const keys = createEdgeKeys({ issuer, store, fallback: remoteKeySet })
 * const verifier = await buildVerifier({ ..., keySet: keys.keySet })
 * app.route('/', keys.routes)
 */
import { Hono, type Context, type ErrorHandler } from 'hono'
import { GatehouseError } from '../core/errors.ts'
import type { KeySet } from '../core/jwks.ts'
import {
  createPublishedKeySource,
  type KeySourceStatus,
  type PublishedKeySource,
} from '../core/published-key-source.ts'
import {
  discoveryAt,
  keySetStoreKeys,
  publicJwksAt,
  type KeySetDocument,
} from '../core/published-key-set.ts'
import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import { RequestError } from './request-errors.ts'
import type { GatehouseEnv } from './types.ts'

/** Seconds a client should wait when L2 cannot give the metadata and this isolate has no copy. */
const RETRY_AFTER_SECONDS = 5
const METHODS = 'GET, HEAD, OPTIONS'

export interface EdgeKeysOptions {
  issuer: string
  store: Pick<Store, 'get'>
  /** The configured key source (origin JWKS URL or inline set), used while L2 has nothing. */
  fallback?: KeySet
  now?: Clock
  /** L2 key prefix (a tenant, issue 16). */
  prefix?: string
  /**
   * Where the routes' 404/503 go. Default: answered by the routes themselves (mounted with
   * `app.route`, the app's handler maps them); a tenant's routes, called with `routes.fetch` from a
   * middleware, rethrow them to the app's handler instead.
   */
  onError?: ErrorHandler<GatehouseEnv>
}

export interface EdgeKeys {
  keySet: PublishedKeySource
  /**
   * JWKS and discovery at the issuer's well-known paths, built on first use: an edge holds one
   * `EdgeKeys` per tenant it verified for, most of which never serve their metadata (issue 16).
   */
  readonly routes: Hono<GatehouseEnv>
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
  let routes: Hono<GatehouseEnv> | undefined
  return {
    keySet,
    get routes() {
      return (routes ??= metadataRoutes(options.issuer, keySet, now, options.onError))
    },
    status: () => keySet.status(),
  }
}

/** The well-known routes of `issuer`, answered from `keySet`. */
function metadataRoutes(
  issuer: string,
  keySet: PublishedKeySource,
  now: Clock,
  onError: ErrorHandler<GatehouseEnv> | undefined,
): Hono<GatehouseEnv> {
  const base = URL.canParse(issuer) ? new URL(issuer).pathname.replace(/\/+$/, '') : ''

  /**
   * Nothing to serve: L2 answered that no set (or no discovery) is published for this issuer (404:
   * not ours to describe), or could not be read and this isolate has no copy (503, retry).
   */
  const missing = (doc: KeySetDocument | undefined): never => {
    if (doc !== undefined || keySet.notPublished())
      throw new GatehouseError({
        code: 'metadata_not_published',
        description: 'no key set is published for this issuer',
        status: 404,
        rfcError: 'not_found',
      })
    throw new GatehouseError({
      code: 'metadata_unavailable',
      description: 'the key set is temporarily unavailable; retry later',
      status: 503,
      rfcError: 'temporarily_unavailable',
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    })
  }

  const publicHeaders = (cacheSeconds: number) => ({
    'Cache-Control': `public, max-age=${cacheSeconds}`,
    'Access-Control-Allow-Origin': '*',
  })

  async function discovery(c: Context<GatehouseEnv>): Promise<Response> {
    const doc = await keySet.document()
    const metadata = doc && discoveryAt(doc, now() / 1000)
    if (!doc || !metadata) return missing(doc)
    return c.json(metadata, 200, publicHeaders(doc.cacheSeconds))
  }

  async function jwks(c: Context<GatehouseEnv>): Promise<Response> {
    const doc = await keySet.document()
    if (!doc) return missing(doc)
    return c.json(publicJwksAt(doc, now() / 1000), 200, publicHeaders(doc.cacheSeconds))
  }

  const routes = new Hono<GatehouseEnv>()
  const paths = [
    `${base}/.well-known/openid-configuration`,
    // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes before the path.
    `/.well-known/oauth-authorization-server${base}`,
    ...(base === '' ? [] : [`${base}/.well-known/oauth-authorization-server`]),
    `${base}/.well-known/jwks.json`,
  ]
  for (const path of paths) {
    routes.get(path, path.endsWith('/jwks.json') ? jwks : discovery) // HEAD too (Hono)
    // Public, read-only documents: a preflight is answered here (no credentials, any origin).
    routes.options(path, (c) =>
      c.body(null, 204, { Allow: METHODS, 'Access-Control-Allow-Origin': '*' }),
    )
    routes.all(path, (c) => {
      throw new RequestError('method_not_allowed', `${c.req.method} is not allowed here`, {
        Allow: METHODS,
      })
    })
  }
  if (onError) routes.onError(onError)
  return routes
}
