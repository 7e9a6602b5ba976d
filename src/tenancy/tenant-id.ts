/**
 * Tenant ids and the L2 namespace each one owns (docs/tenancy.md). A tenant id is a DNS label:
 * 1–63 characters of `a-z 0-9 -`, starting and ending with a letter or digit, so it fits a path
 * segment (`/t/{id}`), a host label and a Redis key without escaping. `default` is the tenant the
 * single-issuer configuration describes; its keys keep their historical, unprefixed names so an
 * existing deployment keeps its data. Every other tenant's keys live under `t:{id}:`.
 *
 * @example
 * tenantNamespace('acme') // 't:acme:'
 * tenantNamespace(DEFAULT_TENANT) // ''
 */

/** A tenant id (see `isTenantId`). Plain strings, so other layers (Cedar's policy sets) share it. */
export type TenantId = string

/** The tenant of the single-issuer configuration. */
export const DEFAULT_TENANT: TenantId = 'default'

const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/** True for a well-formed tenant id. */
export function isTenantId(value: unknown): value is TenantId {
  return typeof value === 'string' && TENANT_ID.test(value)
}

/** The rule, for error messages and schemas. */
export const TENANT_ID_RULE =
  'must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit'

/** Prefix of every tenant's namespace; the default tenant's keys never start with it. */
export const TENANT_KEY_PREFIX = 't:'

/** Keys of the tenant registry itself (registry-keys.ts); no tenant's view reaches them. */
export const REGISTRY_KEY_PREFIX = 'tenancy:'

/**
 * The key prefix of a tenant's data in L2: `''` for the default tenant, `t:{id}:` otherwise.
 *
 * @example tenantNamespace('acme') // 't:acme:'
 */
export function tenantNamespace(id: TenantId): string {
  if (!isTenantId(id)) throw new TypeError(`tenant id ${TENANT_ID_RULE}`)
  return id === DEFAULT_TENANT ? '' : `${TENANT_KEY_PREFIX}${id}:`
}

/**
 * True when `key` (a full L2 key) belongs to the default tenant: outside the registry and outside
 * every other tenant's namespace. `t:default:` counts as the default tenant's (Cedar's policy sets
 * name the tenant in their keys, `default` included).
 *
 * @example isDefaultTenantKey('oauth:rt:abc') // true; isDefaultTenantKey('t:acme:oauth:rt:abc') // false
 */
export function isDefaultTenantKey(key: string): boolean {
  if (key.startsWith(REGISTRY_KEY_PREFIX)) return false
  if (!key.startsWith(TENANT_KEY_PREFIX)) return true
  return key.startsWith(`${TENANT_KEY_PREFIX}${DEFAULT_TENANT}:`)
}
