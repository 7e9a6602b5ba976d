/**
 * What a tenant is (docs/tenancy.md): the definition an operator gives (`gatehouse tenants add`, the
 * admin API) and the two records it becomes in L2.
 *
 * - The **record** (`tenancy:tenant:{id}`): what every edge needs to pick and check the tenant: its
 *   issuer, custom hosts, audiences and quotas. Small, read once per tenant per isolate.
 * - The **settings** (`t:{id}:tenant:settings:{tag}`, inside the tenant's namespace): what only the
 *   origin needs: the tenant's OAuth configuration, in the same shape as the origin's JSON config
 *   without `issuer` and `keys` (token lifetimes, sign-in limits, branding, clients with their CORS
 *   origins, users).
 *
 * Settings documents are immutable: each change writes a new one under a fresh tag and the record
 * names it, so an origin never builds a tenant from halves of two concurrent updates.
 *
 * @example
 * const definition = parseTenantDefinition({ id: 'acme', issuer: 'https://auth.example.com/t/acme',
 *   audiences: ['https://api.acme.example'], oauth: { clients: [...] } })
 */
import { z } from 'zod'
import { GatehouseError } from '../core/errors.ts'
import { ConfigError, parseOAuthConfig, type OAuthConfig } from '../core/oauth/config.ts'
import { isHttpsOrLoopback } from '../core/urls.ts'
import { DEFAULT_TENANT, isTenantId, TENANT_ID_RULE, type TenantId } from './tenant-id.ts'

/** The path segment of path-based tenant issuers: `https://auth.example.com/t/{id}`. */
export const TENANT_PATH_SEGMENT = 't'

const tryUrl = (value: string): URL | undefined =>
  URL.canParse(value) ? new URL(value) : undefined

const tenantId = z
  .string()
  .refine(isTenantId, TENANT_ID_RULE)
  .refine((id) => id !== DEFAULT_TENANT, 'is reserved for the single-issuer configuration')

// The same rule as the origin config's issuer (core/oauth/config.ts), plus a length bound: the
// issuer is part of an L2 key.
const issuer = z
  .string()
  .max(512)
  .refine((v) => {
    const u = tryUrl(v)
    if (!u || u.search !== '' || u.hash !== '' || v.endsWith('/') || v.includes('?')) return false
    return isHttpsOrLoopback(u) && u.username === '' && u.password === ''
  }, 'must be an https URL (http only on loopback) with no query, fragment or trailing slash')

// A Host header value as browsers send it: lower-case name, optional port.
const hostName = z
  .string()
  .max(255)
  .refine((v) => {
    const u = tryUrl(`https://${v}`)
    return u !== undefined && u.host === v && /^[a-z0-9.:[\]-]+$/.test(v)
  }, 'must be a lower-case host name with an optional port, like auth.acme.example')

const audience = z
  .string()
  .max(2048)
  .refine((v) => tryUrl(v) !== undefined && !v.includes('#'), 'must be an absolute URI')

const quotas = z
  .object({
    /** Tokens the origin mints per minute for this tenant (every origin together). */
    tokenMintsPerMinute: z.number().int().min(1).max(10_000_000).optional(),
    /** Tokens one edge isolate verifies per second for this tenant. */
    verificationsPerSecond: z.number().int().min(1).max(10_000_000).optional(),
  })
  .strict()

export const tenantDefinitionSchema = z
  .object({
    id: tenantId,
    issuer,
    /** Custom hosts the origin serves this tenant on (path-based tenants need none). */
    hosts: z.array(hostName).max(20).default([]),
    /** Audiences its tokens may be verified for at the edge (`aud` must hold one). */
    audiences: z.array(audience).min(1).max(50),
    quotas: quotas.prefault({}),
    /** The origin JSON config's fields without `issuer`, `keys`, `keyEncryptionKeys` (its own schema). */
    oauth: z.record(z.string(), z.unknown()).prefault({}),
  })
  .strict()
  .superRefine((t, ctx) => {
    const url = tryUrl(t.issuer)
    if (!url) return
    const pathBased = url.pathname.endsWith(`/${TENANT_PATH_SEGMENT}/${t.id}`)
    if (!pathBased && !t.hosts.includes(url.host))
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: `must end in /${TENANT_PATH_SEGMENT}/${t.id} (path-based) or be on one of the tenant's hosts`,
      })
    if (new Set(t.hosts).size !== t.hosts.length)
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'has duplicates' })
    // The issuer is the tenant's; its keys live in its key set in L2, wrapped under the deployment's
    // key-encryption keys (a tenant definition never carries a secret key).
    for (const field of ['issuer', 'keys', 'keyEncryptionKeys'])
      if (field in t.oauth)
        ctx.addIssue({
          code: 'custom',
          path: ['oauth', field],
          message: 'is set by the tenant (issuer) or its key set in L2 (keys), not here',
        })
  })

export type TenantDefinitionInput = z.input<typeof tenantDefinitionSchema>
export type TenantDefinition = z.output<typeof tenantDefinitionSchema>
export type TenantQuotas = TenantDefinition['quotas']

/** The edge's part of a tenant, at `tenancy:tenant:{id}`. */
export interface TenantRecord {
  format: 1
  id: TenantId
  /** Goes up by one with every change; the settings carry the same number. */
  revision: number
  issuer: string
  hosts: string[]
  audiences: string[]
  quotas: TenantQuotas
  /** The tag of its settings document (`t:{id}:tenant:settings:{tag}`). */
  settings: string
  /** Seconds since the epoch. */
  createdAt: number
  updatedAt: number
}

/** The origin's part of a tenant, at `t:{id}:tenant:settings:{tag}`. */
export interface TenantSettings {
  format: 1
  oauth: Record<string, unknown>
}

/** A tenant definition that breaks a rule: 400 `invalid_request`, every problem listed. */
export class TenantDefinitionError extends GatehouseError {
  override readonly name: string = 'TenantDefinitionError'
  readonly issues: readonly { field: string; message: string }[]

  constructor(issues: readonly { field: string; message: string }[]) {
    // Field paths and rules only: never a value (a definition holds password and secret hashes).
    const lines = issues.map((i) => `${i.field}: ${i.message}`)
    super({
      code: 'tenant_invalid',
      description: `The tenant definition is invalid: ${lines.join('; ')}`.slice(0, 2000),
      status: 400,
      rfcError: 'invalid_request',
    })
    this.issues = issues
  }
}

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (out, p) => (typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)),
    '',
  ) || '(root)'

/**
 * Checks a definition whole, its OAuth part by the origin config's own schema; throws one
 * `TenantDefinitionError` listing every problem (`oauth.clients[0].redirectUris: required ...`).
 *
 * @example const definition = parseTenantDefinition(JSON.parse(text))
 */
export function parseTenantDefinition(input: unknown): TenantDefinition {
  const result = tenantDefinitionSchema.safeParse(input)
  if (!result.success)
    throw new TenantDefinitionError(
      result.error.issues.map((i) => ({
        field: `tenant.${formatPath(i.path)}`,
        message:
          i.code === 'unrecognized_keys' ? `has unknown fields ${i.keys.join(', ')}` : i.message,
      })),
    )
  const config = tenantOAuthConfig(result.data.issuer, result.data.oauth)
  // A tenant's tokens carry only its own audiences (which no other tenant may claim: registry.ts).
  const issues = config.clients.flatMap((client, i) =>
    client.audiences
      .filter((a) => !result.data.audiences.includes(a))
      .map(() => ({
        field: `tenant.oauth.clients[${i}].audiences`,
        message: "must be among the tenant's audiences",
      })),
  )
  if (issues.length > 0)
    throw new TenantDefinitionError([...new Map(issues.map((i) => [i.field, i])).values()])
  return result.data
}

/**
 * The tenant's OAuth configuration: its settings under its issuer, with no configured keys (a
 * tenant's keys live in L2). Throws `TenantDefinitionError` with `tenant.oauth.*` fields.
 *
 * @example const config = tenantOAuthConfig(record.issuer, settings.oauth)
 */
export function tenantOAuthConfig(issuerUrl: string, oauth: Record<string, unknown>): OAuthConfig {
  try {
    return parseOAuthConfig({ ...oauth, issuer: issuerUrl, keys: [] })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new TenantDefinitionError(
      error.issues.map((i) => ({
        field: i.field.replace(/^config/, 'tenant.oauth'),
        message: i.message,
      })),
    )
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A stored record, or undefined when the text is not one (a damaged record reads as absent: the
 * tenant is then unknown, never half-known).
 *
 * @example const record = parseTenantRecord(await store.get(registryKeys.record('acme')))
 */
export function parseTenantRecord(text: string | null): TenantRecord | undefined {
  if (text === null) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(value) || value.format !== 1 || !isTenantId(value.id)) return undefined
  const strings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((s) => typeof s === 'string')
  if (
    typeof value.revision !== 'number' ||
    typeof value.issuer !== 'string' ||
    typeof value.settings !== 'string' ||
    !strings(value.hosts) ||
    !strings(value.audiences) ||
    value.audiences.length === 0 ||
    !isObject(value.quotas)
  )
    return undefined
  return value as unknown as TenantRecord
}

/**
 * Stored settings, or undefined when absent or damaged.
 *
 * @example const settings = parseTenantSettings(await tenantStore.get(settingsKey(record.settings)))
 */
export function parseTenantSettings(text: string | null): TenantSettings | undefined {
  if (text === null) return undefined
  try {
    const value: unknown = JSON.parse(text)
    if (!isObject(value) || value.format !== 1 || !isObject(value.oauth)) return undefined
    return value as unknown as TenantSettings
  } catch {
    return undefined
  }
}
