/**
 * The tenant registry's L2 layout (docs/tenancy.md, "L2 layout"). The registry's own keys live under
 * `tenancy:`, which no tenant's store view can reach (scoped-store.ts); a tenant's settings and data
 * live in its namespace (`t:{id}:`).
 *
 * | key                        | value                                                          |
 * | -------------------------- | -------------------------------------------------------------- |
 * | `tenancy:tenant:{id}`      | the record an edge needs (tenant-record.ts)                    |
 * | `tenancy:issuer:{issuer}`  | the id of the tenant with this exact `iss`                     |
 * | `tenancy:host:{host}`      | the id of the tenant served on this custom host                |
 * | `tenancy:audience:{aud}`   | the id of the tenant whose tokens may carry this audience      |
 * | `tenancy:changes`          | stream: `{ kind: 'tenant', id, revision }` per registry change  |
 * |                            | and `{ kind: 'revocation', id }` per revocation in a tenant     |
 * |                            | (its doorbell, tenant-revocation.ts); trimmed to ~100,000      |
 * | `t:{id}:tenant:settings:{tag}` | the origin's part (OAuth settings), immutable; the record names the tag |
 */
import type { TenantId } from './tenant-id.ts'

export const registryKeys = {
  record: (id: TenantId): string => `tenancy:tenant:${id}`,
  recordPrefix: 'tenancy:tenant:',
  issuer: (issuer: string): string => `tenancy:issuer:${issuer}`,
  host: (host: string): string => `tenancy:host:${host}`,
  audience: (audience: string): string => `tenancy:audience:${audience}`,
  changes: 'tenancy:changes',
} as const

/** A settings document's key, relative to the tenant's namespace (read through its scoped store). */
export const settingsKey = (tag: string): string => `tenant:settings:${tag}`

/** How many change events the stream keeps (at least); a follower further behind starts over. */
export const CHANGES_MAX_LENGTH = 100_000
