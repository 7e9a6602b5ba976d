/**
 * The origin's JSON config (DESIGN.md, Contracts): issuer, signing keys, token lifetimes, clients,
 * development users, rate limits. One zod schema, parsed once at start; a bad config throws a
 * `ConfigError` whose message names the field path (`clients[1].redirectUris[0]: ...`) and never echoes
 * a value (a key's `d` or a hash must not end up in a log).
 *
 * @example const config = parseOAuthConfig(JSON.parse(await readFile(path, 'utf8')))
 */
import { z } from 'zod'
import { suggestName } from '../did-you-mean.ts'
import { SIGNING_ALGS } from '../keys.ts'
import type { SigningAlg } from '../types.ts'
import { isHttpsOrLoopback, isLoopbackHost } from '../urls.ts'
import { ConfigError, type ConfigIssue } from '../errors.ts'
import {
  keyEncryptionKeySchema,
  keyRotationSchema,
  tokenLifetimeBound,
} from './key-lifecycle-config.ts'

export { ConfigError }

export type SigningAlgorithm = SigningAlg
export const KEY_STATUSES = ['next', 'active', 'retiring', 'retired'] as const
export type KeyStatus = (typeof KEY_STATUSES)[number]
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const
export type GrantType = (typeof GRANT_TYPES)[number]
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const
export type ClientAuthMethod = (typeof AUTH_METHODS)[number]

/** Parses an absolute URL or returns undefined (never throws). */
const tryUrl = (value: string): URL | undefined => {
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}

// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/, 'not a valid scope token')

// OAuth 2.1 §2.3.1 / RFC 9700 §2.1: absolute, no fragment, https except loopback; custom schemes
// (native apps, RFC 8252 §7.1) are allowed.
const redirectUri = z
  .string()
  .max(2048)
  .refine((v) => {
    const u = tryUrl(v)
    if (!u || u.hash !== '' || v.includes('#')) return false
    if (u.protocol === 'http:') return isLoopbackHost(u.hostname)
    return u.protocol !== 'javascript:' && u.protocol !== 'data:' && u.protocol !== 'file:'
  }, 'must be an absolute URI without fragment, https unless loopback')

const webOrigin = z.string().refine((v) => {
  const u = tryUrl(v)
  return u !== undefined && (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === v
}, 'must be an origin like https://app.example.com (scheme, host, optional port, no path)')

const backchannelUri = z
  .string()
  .max(2048)
  .refine((v) => {
    const u = tryUrl(v)
    if (!u || v.includes('#')) return false
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname))
  }, 'must be an absolute https URL without fragment (http only on localhost/127.0.0.1)')

const audience = z
  .string()
  .max(2048)
  .refine((v) => tryUrl(v) !== undefined && !v.includes('#'), 'must be an absolute URI')

const issuer = z.string().refine((v) => {
  const u = tryUrl(v)
  if (!u || u.search !== '' || u.hash !== '' || v.endsWith('/') || v.includes('?')) return false
  return isHttpsOrLoopback(u)
}, 'must be an https URL (http only on loopback) with no query, fragment or trailing slash')

const signingKey = z
  .object({
    kty: z.enum(['EC', 'OKP', 'RSA']),
    kid: z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable ASCII characters'),
    alg: z.enum(SIGNING_ALGS as readonly SigningAlg[] as [SigningAlg, ...SigningAlg[]]),
    status: z.enum(KEY_STATUSES),
    /** Seconds since the epoch the key moved to `retiring`; informational for operators. */
    retiringSince: z.number().int().optional(),
  })
  .loose()

const client = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ ~ -'),
    name: z.string().max(100).optional(),
    type: z.enum(['public', 'confidential']),
    /** `sha256:<base64url>` of a high-entropy secret (`gatehouse clients add` prints both). */
    secretHash: z
      .string()
      .regex(/^sha256:[A-Za-z0-9_-]{43}$/, 'must be sha256:<43 base64url characters>')
      .optional(),
    tokenEndpointAuthMethod: z.enum(AUTH_METHODS).optional(),
    redirectUris: z.array(redirectUri).max(50).default([]),
    postLogoutRedirectUris: z.array(redirectUri).max(50).default([]),
    allowedOrigins: z.array(webOrigin).max(50).default([]),
    grantTypes: z.array(z.enum(GRANT_TYPES)).min(1),
    scopes: z.array(scopeToken).max(100).default([]),
    defaultScopes: z.array(scopeToken).max(100).default([]),
    audiences: z.array(audience).max(50).default([]),
    defaultAudience: audience.optional(),
    // OIDC Back-Channel Logout 1.0 §2.2: where to POST logout tokens; absolute, no fragment.
    backchannelLogoutUri: backchannelUri.optional(),
    backchannelLogoutSessionRequired: z.boolean().default(false),
    // RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof.
    requireDpop: z.boolean().default(false),
    // RFC 9449 §8: proofs to /token must carry the server's current DPoP-Nonce.
    dpopNonce: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: (string | number)[], message: string): void =>
      ctx.addIssue({ code: 'custom', path, message })
    if (c.type === 'confidential' && !c.secretHash)
      issue(['secretHash'], 'required for a confidential client')
    if (c.type === 'public' && c.secretHash) issue(['secretHash'], 'a public client has no secret')
    if (c.type === 'public' && c.tokenEndpointAuthMethod && c.tokenEndpointAuthMethod !== 'none')
      issue(['tokenEndpointAuthMethod'], 'a public client authenticates with "none"')
    if (c.type === 'confidential' && c.tokenEndpointAuthMethod === 'none')
      issue(['tokenEndpointAuthMethod'], 'a confidential client must authenticate')
    // RFC 6749 §4.4: client_credentials is for confidential clients only.
    if (c.type === 'public' && c.grantTypes.includes('client_credentials'))
      issue(['grantTypes'], 'a public client cannot use client_credentials')
    if (c.grantTypes.includes('authorization_code') && c.redirectUris.length === 0)
      issue(['redirectUris'], 'required with the authorization_code grant')
    c.defaultScopes.forEach((s, i) => {
      if (!c.scopes.includes(s)) issue(['defaultScopes', i], 'not in the client scopes')
    })
    if (c.defaultAudience && !c.audiences.includes(c.defaultAudience))
      issue(['defaultAudience'], 'not in the client audiences')
  })

const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'sid', 'nonce'])

const user = z
  .object({
    sub: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters'),
    username: z.string().min(1).max(128),
    passwordHash: z
      .string()
      .startsWith('$scrypt$', 'must be a $scrypt$ hash (gatehouse users add)'),
    claims: z
      .record(z.string(), z.union([z.string().max(1024), z.number(), z.boolean()]))
      .refine(
        (r) => Object.keys(r).every((k) => !RESERVED_CLAIMS.has(k)),
        'must not set iss/sub/aud/exp/iat/nbf/jti/sid/nonce',
      )
      .default({}),
    disabled: z.boolean().default(false),
  })
  .strict()

const rateLimit = z
  .object({
    limit: z.number().int().min(1).max(100_000),
    windowSeconds: z.number().int().min(1).max(86_400),
  })
  .strict()

export const oauthConfigSchema = z
  .object({
    $schema: z.string().optional(),
    issuer,
    // The first key set of an empty L2 (docs/keys.md); after that the key set in L2 is the source
    // of truth and retired keys are pruned there, so no cap is needed here.
    keys: z.array(signingKey).default([]),
    keyEncryptionKeys: z.array(keyEncryptionKeySchema).max(10).default([]),
    keyRotation: keyRotationSchema.prefault({}),
    tokens: z
      .object({
        // DESIGN.md: access tokens live 5–15 minutes.
        accessTokenTtlSeconds: z.number().int().min(300).max(900).default(600),
        idTokenTtlSeconds: z.number().int().min(60).max(3600).default(600),
        refreshTokenTtlSeconds: z
          .number()
          .int()
          .min(3600)
          .max(90 * 86_400)
          .default(30 * 86_400),
        // Window in which a concurrent replay of a just-rotated refresh token gets the same successor.
        refreshGraceSeconds: z.number().int().min(0).max(60).default(10),
        // DESIGN.md: codes are single use, 60 s at most (RFC 6749 §4.1.2 recommends ≤ 10 min).
        authorizationCodeTtlSeconds: z.number().int().min(10).max(60).default(60),
        sessionTtlSeconds: z
          .number()
          .int()
          .min(300)
          .max(30 * 86_400)
          .default(8 * 3600),
        loginRequestTtlSeconds: z.number().int().min(60).max(3600).default(600),
      })
      .strict()
      .prefault({}),
    /** The hosted login page's look: the service name it names and its accent colour. */
    branding: z
      .object({
        name: z.string().trim().min(1).max(100).optional(),
        accentColor: z
          .string()
          .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #1d4ed8')
          .optional(),
      })
      .strict()
      .prefault({}),
    rateLimits: z
      .object({
        loginPerIp: rateLimit.prefault({ limit: 30, windowSeconds: 60 }),
        loginPerUsername: rateLimit.prefault({ limit: 10, windowSeconds: 300 }),
      })
      .strict()
      .prefault({}),
    // How back-channel logout tokens are delivered (backchannel-worker.ts); seconds, fractions allowed.
    backchannelLogout: z
      .object({
        timeoutSeconds: z.number().min(0.1).max(60).default(5),
        maxAttempts: z.number().int().min(1).max(50).default(12),
        retryBaseSeconds: z.number().min(0.05).max(3600).default(2),
        retryMaxSeconds: z.number().min(0.05).max(86_400).default(600),
        pollSeconds: z.number().min(0.05).max(300).default(2),
      })
      .strict()
      .prefault({}),
    clients: z.array(client).max(1000).default([]),
    users: z.array(user).max(10_000).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const dup = (items: string[], path: string, field: string): void => {
      const seen = new Set<string>()
      items.forEach((v, i) => {
        if (seen.has(v))
          ctx.addIssue({ code: 'custom', path: [path, i, field], message: 'duplicate' })
        seen.add(v)
      })
    }
    dup(
      cfg.keys.map((k) => k.kid),
      'keys',
      'kid',
    )
    dup(
      cfg.clients.map((c) => c.id),
      'clients',
      'id',
    )
    dup(
      cfg.users.map((u) => u.sub),
      'users',
      'sub',
    )
    dup(
      cfg.users.map((u) => u.username.toLowerCase()),
      'users',
      'username',
    )
    dup(
      cfg.keyEncryptionKeys.map((k) => k.kid),
      'keyEncryptionKeys',
      'kid',
    )
    // A superseded key stays published until every token it signed has expired (docs/keys.md).
    const floor = tokenLifetimeBound(cfg.tokens)
    if (cfg.keyRotation.retainSeconds < floor)
      ctx.addIssue({
        code: 'custom',
        path: ['keyRotation', 'retainSeconds'],
        message: `must be at least the longest token lifetime + leeway + skew (${floor})`,
      })
    const active = cfg.keys.filter((k) => k.status === 'active').length
    // DESIGN.md, Keys: exactly one active key signs.
    if (cfg.keys.length > 0 && active !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['keys'],
        message: `exactly one key must be "active" (found ${active})`,
      })
  })

export type OAuthConfigInput = z.input<typeof oauthConfigSchema>
export type OAuthConfig = z.output<typeof oauthConfigSchema>
export type ClientConfig = OAuthConfig['clients'][number]
export type UserConfig = OAuthConfig['users'][number]
export type SigningKeyConfig = OAuthConfig['keys'][number]

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (out, p) => (typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)),
    '',
  ) || '(root)'

interface SchemaDef {
  type: string
  shape?: Record<string, { _zod: { def: SchemaDef } }>
  innerType?: { _zod: { def: SchemaDef } }
  in?: { _zod: { def: SchemaDef } }
  element?: { _zod: { def: SchemaDef } }
  valueType?: { _zod: { def: SchemaDef } }
}

/** The field names the schema knows at `path` (for "did you mean" on an unknown one). */
function knownFieldsAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let def = (schema as unknown as { _zod: { def: SchemaDef } })._zod.def
  const unwrap = () => {
    for (;;) {
      const inner = def.innerType ?? def.in
      if (def.type === 'object' || def.type === 'array' || def.type === 'record' || !inner) return
      def = inner._zod.def
    }
  }
  unwrap()
  for (const key of path) {
    const next =
      def.type === 'object'
        ? def.shape?.[String(key)]
        : def.type === 'array'
          ? def.element
          : def.type === 'record'
            ? def.valueType
            : undefined
    if (!next) return []
    def = next._zod.def
    unwrap()
  }
  return def.type === 'object' ? Object.keys(def.shape ?? {}) : []
}

/** One issue per zod issue; an unknown field is named, with the closest known one as a hint. */
function configIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  return issues.flatMap((i) => {
    const path = formatPath(i.path)
    const field = path === '(root)' ? 'config' : `config.${path}`
    if (i.code !== 'unrecognized_keys') return [{ field, message: i.message }]
    const known = knownFieldsAt(oauthConfigSchema, i.path)
    return i.keys.map((key) => ({
      field,
      message: `has an unknown field "${key}"${hint(key, known)}`,
    }))
  })
}

const hint = (key: string, known: string[]): string => {
  const close = suggestName(key, known)
  return close === undefined ? '' : ` (did you mean "${close}"?)`
}

/**
 * Validates a parsed JSON config; throws `ConfigError` listing each bad field as `path: message`,
 * an unknown field with a "did you mean" hint.
 *
 * @example parseOAuthConfig({ issuer: 'https://auth.example.com', clients: [] })
 */
export function parseOAuthConfig(input: unknown): OAuthConfig {
  const result = oauthConfigSchema.safeParse(input)
  if (result.success) return result.data
  throw new ConfigError(configIssues(result.error.issues))
}
