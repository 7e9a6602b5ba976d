/**
 * The tenant admin API on the origin (docs/tenancy.md, "Admin API"), behind the admin credential
 * (admin-credential.ts), never a tenant's token:
 *
 * | method and path                 | does                                                       |
 * | ------------------------------- | ---------------------------------------------------------- |
 * | `POST /admin/tenants`           | adds a tenant from its definition (201; 409 on a conflict) |
 * | `GET /admin/tenants/{id}`       | the tenant's record and a summary of its settings           |
 * | `PUT /admin/tenants/{id}`       | replaces its definition                                     |
 * | `DELETE /admin/tenants/{id}`    | removes it (no edge or origin serves it after the bound)    |
 * | `GET /admin/tenants?cursor=`    | one page of tenants and the cursor of the next ('0': done)  |
 * | `GET /admin/tenants/{id}/export` | every key of the tenant, one JSON object per line          |
 * | `DELETE /admin/tenants/{id}/data` | removes it and erases every key of it, nothing else       |
 *
 * Responses never hold a secret: the summary names clients and counts users, without hashes.
 *
 * @example app.route('/', tenantAdminRoutes({ registry, adminSecretHash }))
 */
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { GatehouseError } from '../core/errors.ts'
import { errorFormat } from '../http/error-response.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { adminCredential } from './admin-credential.ts'
import type { TenantRegistry, TenantView } from './registry.ts'
import { TenantDefinitionError } from './tenant-record.ts'
import type { Store } from '../store/types.ts'
import { eraseTenant, exportTenant } from './tenant-data.ts'
import { isTenantId } from './tenant-id.ts'
import { TenantNotFoundError } from './registry.ts'

export interface TenantAdminOptions {
  registry: TenantRegistry
  /** The root store (export and erase). */
  store: Store
  /** `GATEHOUSE_ADMIN_SECRET_HASH`. */
  adminSecretHash: string
}

/** Definitions hold up to 10,000 users with their password hashes. */
const MAX_BODY_BYTES = 8 * 1024 * 1024

const NO_STORE = { 'Cache-Control': 'no-store' }

class BodyTooLarge extends GatehouseError {
  override readonly name: string = 'BodyTooLarge'
  constructor() {
    super({
      code: 'body_too_large',
      description: 'The request body is too large.',
      status: 413,
      rfcError: 'invalid_request',
    })
  }
}

async function definitionFrom(c: Context<GatehouseEnv>): Promise<unknown> {
  try {
    return await c.req.json()
  } catch {
    throw new TenantDefinitionError([{ field: 'body', message: 'must be a JSON object' }])
  }
}

/** What an operator may see of a tenant: no secret hash, no password hash. */
function summary(view: TenantView) {
  const oauth = view.settings?.oauth ?? {}
  const clients = Array.isArray(oauth.clients) ? (oauth.clients as Record<string, unknown>[]) : []
  const users = Array.isArray(oauth.users) ? oauth.users : []
  return {
    tenant: view.record,
    clients: clients.map((client) => ({
      id: client.id,
      type: client.type,
      redirectUris: client.redirectUris ?? [],
      allowedOrigins: client.allowedOrigins ?? [],
      audiences: client.audiences ?? [],
    })),
    users: users.length,
    branding: oauth.branding ?? null,
  }
}

export function tenantAdminRoutes(options: TenantAdminOptions): Hono<GatehouseEnv> {
  const { registry } = options
  const app = new Hono<GatehouseEnv>()
  const guard = [
    errorFormat('json'),
    adminCredential({ digest: options.adminSecretHash }),
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new BodyTooLarge()
      },
    }),
  ] as const
  app.use('/admin/tenants', ...guard)
  app.use('/admin/tenants/*', ...guard)

  app.get('/admin/tenants', async (c) => {
    const cursor = c.req.query('cursor') ?? '0'
    if (!/^\d{1,20}$/.test(cursor))
      throw new TenantDefinitionError([{ field: 'cursor', message: 'must be a scan cursor' }])
    return c.json(await registry.list(cursor), 200, NO_STORE)
  })

  app.get('/admin/tenants/:id/export', async (c) => {
    const id = c.req.param('id')
    if (!isTenantId(id)) throw new TenantNotFoundError()
    const encoder = new TextEncoder()
    const entries = exportTenant(options.store, id)
    // One line per key: a tenant of any size streams in constant memory.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await entries.next()
        if (next.done) controller.close()
        else controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`))
      },
    })
    return new Response(body, {
      headers: { 'Content-Type': 'application/x-ndjson', ...NO_STORE },
    })
  })

  app.delete('/admin/tenants/:id/data', async (c) => {
    const id = c.req.param('id')
    if (!isTenantId(id)) throw new TenantNotFoundError()
    return c.json(
      { erased: id, ...(await eraseTenant(options.store, registry, id)) },
      200,
      NO_STORE,
    )
  })

  app.post('/admin/tenants', async (c) => {
    const record = await registry.add(await definitionFrom(c))
    return c.json({ tenant: record }, 201, NO_STORE)
  })

  app.get('/admin/tenants/:id', async (c) => {
    const view = await registry.view(c.req.param('id'))
    if (!view)
      return c.json({ error: 'not_found', error_description: 'No such tenant.' }, 404, NO_STORE)
    return c.json(summary(view), 200, NO_STORE)
  })

  app.put('/admin/tenants/:id', async (c) => {
    const definition = await definitionFrom(c)
    const id = (definition as { id?: unknown } | null)?.id
    if (id !== c.req.param('id'))
      throw new TenantDefinitionError([
        { field: 'tenant.id', message: 'must be the id in the path' },
      ])
    return c.json({ tenant: await registry.update(definition) }, 200, NO_STORE)
  })

  app.delete('/admin/tenants/:id', async (c) => {
    const removed = await registry.remove(c.req.param('id'))
    return c.json({ removed: removed.id }, 200, NO_STORE)
  })
  return app
}
