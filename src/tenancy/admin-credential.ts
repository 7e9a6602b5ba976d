/**
 * The operators' credential for the tenant admin API: a high-entropy secret (256 random bits from
 * `gatehouse tenants admin-secret`) sent as a bearer token, of which the origin holds only the
 * `sha256:` digest (`GATEHOUSE_ADMIN_SECRET_HASH`). It is not a token of any tenant: no issuer's key
 * can mint it, so a tenant's administrator cannot reach another tenant through the admin API.
 * Compared in constant time; a 256-bit secret leaves nothing to guess, so failures are not counted.
 *
 * @example app.use('/admin/tenants/*', adminCredential({ digest: config.adminSecretHash }))
 */
import type { MiddlewareHandler } from 'hono'
import { AuthError } from '../core/errors.ts'
import { sha256, timingSafeEqual } from '../core/oauth/crypto.ts'
import type { GatehouseEnv } from '../http/types.ts'

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/

/** A fresh admin secret and its digest (the secret for operators, the digest for the origin). */
export async function newAdminSecret(): Promise<{ secret: string; digest: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  const secret = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
  return { secret, digest: `sha256:${await sha256(secret)}` }
}

export function adminCredential(options: { digest: string }): MiddlewareHandler<GatehouseEnv> {
  if (!/^sha256:[A-Za-z0-9_-]{43}$/.test(options.digest))
    throw new TypeError('adminCredential: digest must be sha256:<43 base64url characters>')
  return async (c, next) => {
    const match = BEARER.exec(c.req.header('authorization') ?? '')
    if (!match?.[1]) throw new AuthError('token_missing', 'the admin credential is required')
    const presented = `sha256:${await sha256(match[1])}`
    if (!timingSafeEqual(presented, options.digest))
      throw new AuthError('signature_invalid', 'the admin credential is not valid')
    await next()
  }
}
