/**
 * Discovery (OIDC Discovery §4, RFC 8414 §3) and the JWKS (RFC 7517 §5). Public, cacheable for the
 * key set's `cacheSeconds` (300 by default; docs/keys.md), readable cross-origin. Both are built per
 * request from the current key set, so a rotation shows without a restart. The JWKS holds public
 * members only (keys.ts).
 */
import { Hono } from 'hono'
import { discoveryDocument } from '../../core/oauth/discovery.ts'
import { ENDPOINTS } from '../../core/oauth/endpoints.ts'
import type { GatehouseEnv } from '../types.ts'
import type { OAuthRouteDeps } from './deps.ts'

export function metadataRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const app = new Hono<GatehouseEnv>()
  const { oauth } = deps
  const headers = () => ({
    'Cache-Control': `public, max-age=${oauth.keys.cacheSeconds}`,
    'Access-Control-Allow-Origin': '*',
  })
  const serveMetadata = () => Response.json(discoveryDocument(oauth), { headers: headers() })
  app.get(`${base}${ENDPOINTS.openidConfiguration}`, serveMetadata)
  // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes before the path.
  app.get(`/.well-known/oauth-authorization-server${base}`, serveMetadata)
  if (base !== '') app.get(`${base}/.well-known/oauth-authorization-server`, serveMetadata)
  app.get(`${base}${ENDPOINTS.jwks}`, () =>
    Response.json(oauth.keys.publicJwks(), { headers: headers() }),
  )
  return app
}
