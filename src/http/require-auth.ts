/**
 * `requireAuth`: Hono middleware that admits only requests with a valid access token (bearer, or
 * DPoP-bound with its proof, RFC 9449 §7), for our
 * app and for anyone's Worker (`import { requireAuth } from 'gatehouse'`). It answers auth failures
 * itself with RFC 6750 responses, so it needs no particular `onError` in the host app.
 */
import type { MiddlewareHandler } from 'hono'
import { z } from 'zod'
import { unknownNameMessage } from '../core/did-you-mean.ts'
import { AuthError } from '../core/errors.ts'
import { HTTPS_EXCEPT_LOOPBACK, isHttpsOrLoopback } from '../core/urls.ts'
import type { VerifiedToken } from '../core/types.ts'
import { DEFAULT_REALM, authErrorResponse } from './auth-response.ts'
import { authenticate } from './authenticate.ts'
import { buildVerifier } from './build-verifier.ts'
import { createDpopGuard, type DpopGuard } from './dpop-guard.ts'
import { SCOPE_TOKEN } from './scopes.ts'
import type { TokenVerifier } from './types.ts'

export { authenticate } from './authenticate.ts'
export { createDpopGuard, type DpopGuard, type DpopGuardOptions } from './dpop-guard.ts'

interface CommonOptions {
  /** Every one of these must be in the token's `scope` claim, else 403 `insufficient_scope`. */
  scopes?: string[]
  /** `realm` of the `WWW-Authenticate` challenge. Default "gatehouse". */
  realm?: string
  /**
   * Checks DPoP proofs (RFC 9449 §7), from `createDpopGuard`. Default: one of its own, replay caught
   * in this isolate's memory only; pass one with a `store` to catch a replay anywhere.
   */
  dpop?: DpopGuard
}

export type RequireAuthOptions = CommonOptions &
  (
    | {
        /** A ready verifier (from `buildVerifier` or the core); it already checks iss/aud. */
        verifier: TokenVerifier
        /** An extra audience the token must carry, on top of what the verifier checks. */
        audience?: string
      }
    | {
        issuer: string
        audience: string
        /** The issuer's JWKS endpoint (https, or http on localhost). */
        jwksUrl: string
        clockLeewaySeconds?: number
        fetch?: typeof fetch
      }
    | {
        issuer: string
        audience: string
        /** An inline JSON Web Key Set of public keys. */
        jwks: { keys: object[] }
        clockLeewaySeconds?: number
      }
  )

/** Variables `requireAuth` sets: `c.get('auth')` is the verified token. */
export interface RequireAuthEnv {
  Variables: { auth: VerifiedToken; errorCode: string }
}

const scopes = z.array(
  z.string().regex(SCOPE_TOKEN, 'each scope must be an RFC 6749 §3.3 scope-token'),
)
const common = {
  dpop: z
    .custom<DpopGuard>(
      (v) =>
        typeof (v as DpopGuard | null)?.checker?.check === 'function' &&
        typeof (v as DpopGuard | null)?.replay?.claim === 'function',
      'must come from createDpopGuard',
    )
    .optional(),
  scopes: scopes.optional(),
  realm: z
    .string()
    .regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,100}$/)
    .optional(),
}
const text = z.string().min(1)
const leeway = z.number().int().min(0).max(60).optional()
const schemas = {
  verifier: z.object({
    ...common,
    verifier: z.custom<TokenVerifier>(
      (v) => typeof (v as TokenVerifier | null)?.verify === 'function',
      'must have a verify(token) method',
    ),
    audience: text.optional(),
  }),
  jwksUrl: z.object({
    ...common,
    issuer: text,
    audience: text,
    // RFC 8414 §2: jwks_uri is https; plain http only for local development.
    jwksUrl: z
      .url({ protocol: /^https?$/ })
      .refine((u) => isHttpsOrLoopback(new URL(u)), HTTPS_EXCEPT_LOOPBACK),
    clockLeewaySeconds: leeway,
    fetch: z.custom<typeof fetch>((v) => typeof v === 'function').optional(),
  }),
  jwks: z.object({
    ...common,
    issuer: text,
    audience: text,
    jwks: z.object({ keys: z.array(z.object({ kty: z.string() }).loose()).min(1) }),
    clockLeewaySeconds: leeway,
  }),
}

/** Picks the schema by which key source is given, so an error names the real problem. */
function checkOptions(options: RequireAuthOptions): void {
  const given = (['verifier', 'jwksUrl', 'jwks'] as const).filter(
    (k) => typeof options === 'object' && options !== null && k in options,
  )
  if (given.length !== 1) {
    throw new TypeError('requireAuth: give exactly one of verifier, jwksUrl or jwks')
  }
  const schema = schemas[given[0]!]
  // An unknown option is named first: `audiance` must not read as a missing `audience`.
  const known = Object.keys(schema.shape)
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new TypeError(`requireAuth: ${key}: ${unknownNameMessage(key, known, 'option')}`)
  }
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new TypeError(`requireAuth: ${issue?.path.join('.') || 'options'}: ${issue?.message}`)
  }
}

/**
 * Middleware admitting only requests with a valid access token (header only: the body belongs to the
 * route). Options are validated here, once; a bad option throws a `TypeError` naming it. Given
 * issuer/audience/keys, the verifier (with an L1 cache) is built on the first request and reused.
 *
 * @example
 * app.use('/orders/*', requireAuth({ issuer, audience, jwksUrl, scopes: ['orders:read'] }))
 * app.get('/orders/mine', (c) => c.json({ owner: c.get('auth').claims.sub }))
 */
export function requireAuth(options: RequireAuthOptions): MiddlewareHandler<RequireAuthEnv> {
  checkOptions(options)
  const realm = options.realm ?? DEFAULT_REALM
  const required = options.scopes ?? []
  const extraAudience = 'verifier' in options ? options.audience : undefined
  const leewaySeconds = 'clockLeewaySeconds' in options ? options.clockLeewaySeconds : undefined
  const dpop =
    options.dpop ??
    createDpopGuard(leewaySeconds === undefined ? {} : { clockLeewaySeconds: leewaySeconds })
  let verifier: TokenVerifier | undefined = 'verifier' in options ? options.verifier : undefined

  // Built lazily and kept once ready. Two first requests racing may both build; the loser's copy is
  // dropped. No in-flight promise is shared between requests (DESIGN.md, L1 and L2).
  const getVerifier = async (): Promise<TokenVerifier> => {
    if (verifier !== undefined) return verifier
    const o = options as Exclude<RequireAuthOptions, { verifier: TokenVerifier }>
    const built = await buildVerifier({
      issuer: o.issuer,
      audience: o.audience,
      keySource:
        'jwksUrl' in o ? { kind: 'url', url: o.jwksUrl } : { kind: 'inline', jwks: o.jwks },
      ...(o.clockLeewaySeconds === undefined ? {} : { clockLeewaySeconds: o.clockLeewaySeconds }),
      ...('fetch' in o && o.fetch !== undefined ? { fetch: o.fetch } : {}),
    })
    verifier ??= built
    return verifier
  }

  return async function requireAuthMiddleware(c, next) {
    let verified: VerifiedToken
    try {
      verified = await authenticate(c.req.raw, await getVerifier(), {
        allowFormBody: false,
        scopes: required,
        dpop,
        ...(extraAudience === undefined ? {} : { audience: extraAudience }),
      })
    } catch (err) {
      if (!(err instanceof AuthError)) throw err
      c.set('errorCode', err.code)
      return authErrorResponse(err, realm)
    }
    c.set('auth', verified)
    await next()
    return undefined
  }
}
