/**
 * Every key of one tenant, and nothing else (docs/tenancy.md, "Export and erase"): its namespace
 * (`t:{id}:`, found by a key scan) plus its registry record and the issuer, host and audience claims
 * that name it. For the default tenant, whose keys have no prefix, the namespace is every key outside
 * the registry and the other tenants' namespaces.
 *
 * `exportTenant` yields one JSON-ready entry per key: strings with their value and remaining TTL,
 * streams with their entries, other kinds (the back-channel logout schedule) by name only.
 * `eraseTenant` unpublishes the tenant (edges and origins stop serving it within the revocation bound)
 * and deletes every key it found, in batches; the default tenant cannot be erased.
 *
 * @example
 * for await (const entry of exportTenant(store, 'acme')) out.write(JSON.stringify(entry) + '\n')
 * await eraseTenant(store, registry, 'acme') // { deleted: 42 }
 */
import { GatehouseError } from '../core/errors.ts'
import { StoreError } from '../store/errors.ts'
import type { Store, StreamEntry } from '../store/types.ts'
import { registryKeys } from './registry-keys.ts'
import { TenantNotFoundError, type TenantRegistry } from './registry.ts'
import { DEFAULT_TENANT, isDefaultTenantKey, tenantNamespace, type TenantId } from './tenant-id.ts'
import { parseTenantRecord } from './tenant-record.ts'

export type ExportedKey =
  | { key: string; type: 'string'; value: string; ttlMs: number | null }
  | { key: string; type: 'stream'; entries: { id: string; fields: Record<string, string> }[] }
  | { key: string; type: 'other' }

const SCAN_COUNT = 1000
const DELETE_BATCH = 500

/**
 * Every L2 key of `tenant`, as full keys. Scans only the tenant's prefix (the default tenant's
 * scan is the whole keyspace, filtered).
 *
 * @example for await (const key of tenantKeys(store, 'acme')) console.log(key)
 */
export async function* tenantKeys(store: Store, tenant: TenantId): AsyncGenerator<string> {
  const prefix = tenantNamespace(tenant)
  const seen = new Set<string>()
  let cursor = '0'
  do {
    const page = await store.scanKeys(prefix, cursor, SCAN_COUNT)
    cursor = page.cursor
    for (const key of page.keys) {
      // SCAN may return a key twice; the default tenant's scan sees everyone's keys.
      if (seen.has(key) || (tenant === DEFAULT_TENANT && !isDefaultTenantKey(key))) continue
      seen.add(key)
      yield key
    }
  } while (cursor !== '0')
  if (tenant === DEFAULT_TENANT) return
  // The registry's keys that name the tenant.
  const recordKey = registryKeys.record(tenant)
  const record = parseTenantRecord(await store.get(recordKey))
  if (record === undefined) return
  yield recordKey
  const claims = [
    registryKeys.issuer(record.issuer),
    ...record.hosts.map(registryKeys.host),
    ...record.audiences.map(registryKeys.audience),
  ]
  for (const key of claims) if ((await store.get(key)) === tenant) yield key
}

async function readAll(store: Store, key: string): Promise<StreamEntry[]> {
  const out: StreamEntry[] = []
  let after = '0-0'
  for (;;) {
    const page = await store.readStream(key, after, 1000)
    out.push(...page)
    if (page.length < 1000) return out
    after = page.at(-1)!.id
  }
}

const wrongType = (error: unknown) => error instanceof StoreError && error.code === 'command_failed'

/** One key as it is stored. */
async function exportKey(store: Store, key: string): Promise<ExportedKey | undefined> {
  try {
    const value = await store.get(key)
    if (value === null) return undefined // expired during the export
    const ttl = await store.ttlMs(key)
    return { key, type: 'string', value, ttlMs: ttl === Infinity ? null : ttl }
  } catch (error) {
    if (!wrongType(error)) throw error
  }
  try {
    const entries = await readAll(store, key)
    return { key, type: 'stream', entries: entries.map(({ id, fields }) => ({ id, fields })) }
  } catch (error) {
    if (!wrongType(error)) throw error
  }
  return { key, type: 'other' }
}

/**
 * @example const entries = []; for await (const e of exportTenant(store, 'acme')) entries.push(e)
 */
export async function* exportTenant(store: Store, tenant: TenantId): AsyncGenerator<ExportedKey> {
  for await (const key of tenantKeys(store, tenant)) {
    const entry = await exportKey(store, key)
    if (entry) yield entry
  }
}

/** The default tenant's data is the single-issuer deployment's: it is never erased from here. */
class DefaultTenantErase extends GatehouseError {
  override readonly name: string = 'DefaultTenantErase'
  constructor() {
    super({
      code: 'tenant_default',
      description: 'The default tenant cannot be erased.',
      status: 400,
      rfcError: 'invalid_request',
    })
  }
}

/**
 * @example const { deleted } = await eraseTenant(store, registry, 'acme')
 */
export async function eraseTenant(
  store: Store,
  registry: Pick<TenantRegistry, 'remove' | 'get'>,
  tenant: TenantId,
): Promise<{ deleted: number }> {
  if (tenant === DEFAULT_TENANT) throw new DefaultTenantErase()
  // Unpublished first (which releases its claims): no request can find it while its data goes.
  if (await registry.get(tenant)) {
    try {
      await registry.remove(tenant)
    } catch (error) {
      if (!(error instanceof TenantNotFoundError)) throw error
    }
  }
  let deleted = 0
  let batch: string[] = []
  for await (const key of tenantKeys(store, tenant)) {
    batch.push(key)
    if (batch.length >= DELETE_BATCH) {
      deleted += await store.delete(...batch)
      batch = []
    }
  }
  if (batch.length > 0) deleted += await store.delete(...batch)
  return { deleted }
}
