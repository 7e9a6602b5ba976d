/**
 * `gatehouse tenants …`: the tenant registry from the command line (docs/tenancy.md), talking to the
 * same L2 as the origins (UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN). Changes reach every edge
 * and origin within the revocation bound, without a restart.
 *
 *   gatehouse tenants add FILE|-          a tenant definition (JSON) from a file or stdin
 *   gatehouse tenants update FILE|-       replaces a tenant's definition (same id)
 *   gatehouse tenants list                every tenant's record
 *   gatehouse tenants show ID             a tenant's record and a summary of its settings
 *   gatehouse tenants remove ID           unpublishes it; its data stays
 *   gatehouse tenants export ID           every key of the tenant as JSON lines, on stdout
 *   gatehouse tenants delete ID --yes     unpublishes it and erases every key of it
 *   gatehouse tenants admin-secret        a new admin credential and its GATEHOUSE_ADMIN_SECRET_HASH
 *
 * @example gatehouse tenants add acme.json && gatehouse tenants export acme > acme.ndjson
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createUpstashStore } from '../store/upstash.ts'
import type { Store } from '../store/types.ts'
import { newAdminSecret } from '../tenancy/admin-credential.ts'
import { createTenantRegistry } from '../tenancy/registry.ts'
import { eraseTenant, exportTenant } from '../tenancy/tenant-data.ts'
import { isTenantId, TENANT_ID_RULE } from '../tenancy/tenant-id.ts'
import { TenantDefinitionError } from '../tenancy/tenant-record.ts'
import { UsageError } from './keys.ts'

export const TENANTS_USAGE = `  gatehouse tenants add FILE|-        (a tenant definition, JSON; see docs/tenancy.md)
  gatehouse tenants update FILE|-
  gatehouse tenants list | show ID | remove ID
  gatehouse tenants export ID        (every key of the tenant, JSON lines on stdout)
  gatehouse tenants delete ID --yes  (erases every key of the tenant)
  gatehouse tenants admin-secret     (a new admin credential for the tenant admin API)`

export interface TenantsIo {
  env: Record<string, string | undefined>
  /** Reads a definition: a path, or `-` for stdin. */
  readDefinition?: (source: string) => Promise<string>
  /** Where `export` writes its lines. */
  write?: (line: string) => void
  /** An L2 store instead of the one the environment names (tests). */
  store?: Store
}

function storeFrom(io: TenantsIo): Store {
  if (io.store) return io.store
  const url = io.env.UPSTASH_REDIS_REST_URL
  const token = io.env.UPSTASH_REDIS_REST_TOKEN
  if (!url || !token)
    throw new UsageError(
      'set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the origin’s L2)',
    )
  return createUpstashStore({ url, token })
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function definitionFrom(source: string | undefined, io: TenantsIo): Promise<unknown> {
  if (!source) throw new UsageError('give the definition: a FILE, or - for stdin')
  const read = io.readDefinition ?? ((s: string) => (s === '-' ? readStdin() : readFile(s, 'utf8')))
  const text = await read(source)
  try {
    return JSON.parse(text)
  } catch {
    throw new TenantDefinitionError([{ field: 'definition', message: 'is not valid JSON' }])
  }
}

const tenantId = (value: string | undefined): string => {
  if (!isTenantId(value)) throw new UsageError(`the tenant id ${TENANT_ID_RULE}`)
  return value
}

/**
 * Runs one `tenants` command; resolves what to print as JSON (undefined: printed already).
 *
 * @example await tenants(['show', 'acme'], { env: process.env })
 */
export async function tenants(args: string[], io: TenantsIo): Promise<unknown> {
  const [action, ...rest] = args
  if (action === 'admin-secret') {
    const { secret, digest } = await newAdminSecret()
    return {
      secret,
      GATEHOUSE_ADMIN_SECRET_HASH: digest,
      note: 'give the secret to operators (Authorization: Bearer); set the hash on the origin',
    }
  }
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { yes: { type: 'boolean' } },
  })
  if (positionals.length > 1) throw new UsageError(`unexpected: ${positionals.slice(1).join(' ')}`)
  const [target] = positionals
  const store = storeFrom(io)
  const registry = createTenantRegistry({ store })
  switch (action) {
    case 'add':
      return { added: await registry.add(await definitionFrom(target, io)) }
    case 'update':
      return { updated: await registry.update(await definitionFrom(target, io)) }
    case 'list': {
      const all = []
      let cursor = '0'
      do {
        const page = await registry.list(cursor, 1000)
        all.push(...page.tenants)
        cursor = page.cursor
      } while (cursor !== '0')
      return { tenants: all.sort((a, b) => a.id.localeCompare(b.id)) }
    }
    case 'show': {
      const view = await registry.view(tenantId(target))
      if (!view) throw new UsageError(`no tenant ${target}`)
      const oauth = view.settings?.oauth ?? {}
      const clients = Array.isArray(oauth.clients) ? (oauth.clients as { id?: unknown }[]) : []
      return {
        tenant: view.record,
        clients: clients.map((c) => c.id),
        users: Array.isArray(oauth.users) ? oauth.users.length : 0,
      }
    }
    case 'remove':
      return { removed: (await registry.remove(tenantId(target))).id }
    case 'export': {
      const write = io.write ?? ((line: string) => void process.stdout.write(line))
      let keys = 0
      for await (const entry of exportTenant(store, tenantId(target))) {
        write(`${JSON.stringify(entry)}\n`)
        keys++
      }
      process.stderr.write(`exported ${keys} keys\n`)
      return undefined
    }
    case 'delete': {
      const id = tenantId(target)
      if (!values.yes) throw new UsageError(`this erases every key of ${id}: add --yes`)
      return { erased: id, ...(await eraseTenant(store, registry, id)) }
    }
    default:
      throw new UsageError(`usage:\n${TENANTS_USAGE}`)
  }
}
