/**
 * `createOAuthRoutes(deps)`: the origin's OAuth 2.1 / OpenID Connect route group, a Hono app that the
 * shell mounts at `/` (`createApp({ ..., routes: [{ path: '/', app: createOAuthRoutes(deps) }] })`).
 * Paths are relative to the issuer's path, so `https://auth.example.com/tenant-a` serves
 * `/tenant-a/token` etc. Every URL it hands out is built from the configured issuer.
 *
 * Routes: discovery (both well-known names), JWKS, /authorize (GET, POST), /login (POST), /token,
 * /revoke, /introspect, /userinfo (GET, POST), /logout (GET, POST), and CORS preflights.
 *
 * @example
 * const oauth = await createOAuthContext({ config, store, passwords })
 * const app = createApp({ role: 'origin', verifier, logger, routes: [{ path: '/', app: createOAuthRoutes({ oauth, logger }) }] })
 */
import { Hono } from 'hono'
import { DEFAULT_REALM } from '../auth-response.ts'
import { errorHandler } from '../error-response.ts'
import { silentLogger } from '../log.ts'
import type { GatehouseEnv } from '../types.ts'
import { authorizeRoutes } from './authorize-routes.ts'
import type { OAuthRouteDeps } from './deps.ts'
import { logoutRoutes } from './logout-route.ts'
import { metadataRoutes } from './metadata-routes.ts'
import { tokenRoutes } from './token-routes.ts'

export type { OAuthRouteDeps } from './deps.ts'

export function createOAuthRoutes(deps: OAuthRouteDeps): Hono<GatehouseEnv> {
  if (!deps.oauth) throw new TypeError('createOAuthRoutes: oauth context required')
  const base = new URL(deps.oauth.issuer).pathname.replace(/\/+$/, '')
  const app = new Hono<GatehouseEnv>()
  app.route('/', metadataRoutes(deps, base))
  app.route('/', authorizeRoutes(deps, base))
  app.route('/', tokenRoutes(deps, base))
  app.route('/', logoutRoutes(deps, base))
  // The same mapping as createApp's, so the group renders its errors alike when used on its own.
  app.onError(errorHandler(deps.logger ?? silentLogger, DEFAULT_REALM))
  return app
}
