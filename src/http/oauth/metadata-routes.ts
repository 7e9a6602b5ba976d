/**
 * Discovery (OIDC Discovery §4, RFC 8414 §3) and the JWKS (RFC 7517 §5). Public, cacheable for five
 * minutes, readable cross-origin. The JWKS holds public members only (keys.ts).
 */
import { Hono } from 'hono'
import { discoveryDocument } from '../../core/oauth/discovery.ts'
import { ENDPOINTS } from '../../core/oauth/endpoints.ts'
import type { GatehouseEnv } from '../types.ts'
import type { OAuthRouteDeps } from './deps.ts'

const PUBLIC_HEADERS = {
  'Cache-Control': 'public, max-age=300',
  'Access-Control-Allow-Origin': '*',
}

export function metadataRoutes(deps: OAuthRouteDeps, base: string): Hono<GatehouseEnv> {
  const app = new Hono<GatehouseEnv>()
  const metadata = discoveryDocument(deps.oauth)
  const jwks = deps.oauth.keys.publicJwks()
  const serveMetadata = () => Response.json(metadata, { headers: PUBLIC_HEADERS })
  app.get(`${base}${ENDPOINTS.openidConfiguration}`, serveMetadata)
  // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes before the path.
  app.get(`/.well-known/oauth-authorization-server${base}`, serveMetadata)
  if (base !== '') app.get(`${base}/.well-known/oauth-authorization-server`, serveMetadata)
  app.get(`${base}${ENDPOINTS.jwks}`, () => Response.json(jwks, { headers: PUBLIC_HEADERS }))
  return app
}
