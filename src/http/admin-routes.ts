/**
 * The origin's admin API. Today one route: revoke every token and session of a user (a per-subject
 * not-before, DESIGN.md "Revocation with a stated staleness bound", then every live login session of
 * the user ended — refresh families revoked, each client told over the back channel), for support
 * staff and incident response.
 *
 * Authentication is OAuth itself: a client_credentials access token from this issuer whose `aud` is the
 * issuer and whose `scope` holds `gatehouse:admin` (register an admin client with that scope and the
 * issuer as audience). No static admin password exists to leak.
 *
 * @example
 * app.route('/', createAdminRoutes({ issuer, keys: ownKeySet(origin.keys), revocation: origin.revocation }))
 * // POST /admin/users/u-42/revoke  Authorization: Bearer <admin token>
 * //   → 200 { sub, notBefore, sessionsEnded }
 */
import { Hono } from 'hono'
import type { KeySet } from '../core/jwks.ts'
import type { Sessions } from '../core/oauth/sessions.ts'
import { createAccessTokenVerifier } from '../core/verify.ts'
import { isRevocableId, type RevocationWriter } from '../revocation/index.ts'
import { requireAuth } from './require-auth.ts'
import type { GatehouseEnv } from './types.ts'

export const ADMIN_SCOPE = 'gatehouse:admin'

export interface AdminRoutesOptions {
  issuer: string
  /** The origin's keys (every published one, as they rotate): admin tokens are the origin's own. */
  keys: KeySet
  revocation: Pick<RevocationWriter, 'revokeSubject'>
  /** Ends the user's login sessions too; without it only tokens are revoked. */
  sessions?: Pick<Sessions, 'endAllOf'>
}

export function createAdminRoutes(options: AdminRoutesOptions): Hono<GatehouseEnv> {
  const app = new Hono<GatehouseEnv>()
  const admin = requireAuth({
    verifier: createAccessTokenVerifier({
      issuer: options.issuer,
      audience: options.issuer,
      keys: options.keys,
    }),
    scopes: [ADMIN_SCOPE],
  })
  app.post('/admin/users/:sub/revoke', admin, async (c) => {
    const sub = c.req.param('sub')
    // A `sub` is an opaque string (RFC 7519 §4.1.2): the writer's own id rule, checked up front for a 400.
    if (!isRevocableId(sub)) {
      return c.json(
        { error: 'invalid_request', error_description: 'sub must be 1–512 characters' },
        400,
        { 'Cache-Control': 'no-store' },
      )
    }
    const notBefore = await options.revocation.revokeSubject(sub)
    const sessionsEnded = (await options.sessions?.endAllOf(sub, 'subject_revoked')) ?? 0
    return c.json({ sub, notBefore, sessionsEnded }, 200, { 'Cache-Control': 'no-store' })
  })
  return app
}
