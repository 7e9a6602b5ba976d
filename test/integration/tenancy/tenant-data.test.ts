/**
 * Export and erase touch every key of a tenant and nothing else, on the memory store and on real
 * Redis through the production Upstash adapter (SCAN, streams, schedules). Also the CLI around them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tenants } from '../../../src/cli/tenants.ts'
import { keySetStoreKeys } from '../../../src/core/published-key-set.ts'
import { policyHeadKey, policyVersionKey } from '../../../src/policy/policy-document.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { createTenantRegistry } from '../../../src/tenancy/registry.ts'
import { scopeStore } from '../../../src/tenancy/scoped-store.ts'
import { eraseTenant, exportTenant, type ExportedKey } from '../../../src/tenancy/tenant-data.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'

let redis: RedisWithBridge
let prefix = 0

beforeAll(async () => {
  redis = await useRedisWithBridge()
})
afterAll(() => redis?.close())

const definition = (id: string) => ({
  id,
  issuer: `https://auth.example.test/t/${id}`,
  hosts: [`auth.${id}.test`],
  audiences: [`https://api.${id}.test`],
})

/** Every key of the store with what it holds, to compare before and after. */
async function dump(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  let cursor = '0'
  do {
    const page = await store.scanKeys('', cursor, 1000)
    cursor = page.cursor
    for (const key of page.keys) {
      let value: string
      try {
        value = `string:${await store.get(key)}`
      } catch {
        try {
          value = `stream:${JSON.stringify(await store.readStream(key, '0-0', 1000))}`
        } catch {
          value = 'other'
        }
      }
      out.set(key, value)
    }
  } while (cursor !== '0')
  return out
}

/** Data of every kind for a tenant (its view) as its origin writes it. */
async function seed(view: Store, tag: string) {
  await view.set('oauth:session:s1', `session ${tag}`, { ttlSeconds: 3600 })
  await view.set('oauth:rt:abc', `refresh ${tag}`)
  await view.increment('oauth:rl:ip:192.0.2.1', 60)
  await view.appendToStream(
    'rev:stream',
    { kind: 'jti', id: `j-${tag}` },
    {
      maxLength: 1000,
      record: { key: `rev:jti:j-${tag}`, value: '1', ttlSeconds: 600, onExisting: 'keep' },
    },
  )
  await view.schedule('oauth:bcl:queue', `notice-${tag}`, 1)
  // Its key set and key lease (src/core/oauth/key-lifecycle.ts), as its origin writes them.
  const keySet = keySetStoreKeys(`https://auth.example.test/t/${tag}`)
  await view.set(keySet.document, `key set ${tag}`)
  await view.set(keySet.lease, `lease ${tag}`, { ttlSeconds: 60 })
}

const stores: [string, () => Store][] = [
  ['memory', () => createMemoryStore()],
  [
    'Redis (Upstash adapter)',
    // A fresh key prefix per case: the cases share one redis-server.
    () => createUpstashStore({ url: redis.url, token: redis.token, keyPrefix: `td${prefix++}:` }),
  ],
]

describe.each(stores)('tenant export and erase on %s', (_name, makeStore) => {
  async function world() {
    const store = makeStore()
    const registry = createTenantRegistry({ store })
    for (const id of ['acme', 'globex']) await registry.add(definition(id))
    await seed(scopeStore(store, 'default'), 'default')
    await seed(scopeStore(store, 'acme'), 'acme')
    await seed(scopeStore(store, 'globex'), 'globex')
    // Cedar policy sets name their tenant in the key, the default tenant's too (policy-document.ts).
    for (const id of ['default', 'acme', 'globex']) {
      await store.set(policyHeadKey(id), `head ${id}`)
      await store.set(policyVersionKey(id, 1, 'n1'), `policies ${id}`)
    }
    return { store, registry }
  }

  it('a tenant export holds every key of the tenant and no key of another', async () => {
    const { store } = await world()
    const exported: ExportedKey[] = []
    for await (const entry of exportTenant(store, 'acme')) exported.push(entry)
    const keys = exported.map((e) => e.key).sort()
    expect(keys.filter((k) => k.startsWith('t:acme:')).length).toBeGreaterThanOrEqual(7)
    expect(keys.every((k) => k.startsWith('t:acme:') || k.startsWith('tenancy:'))).toBe(true)
    expect(keys).toContain('tenancy:tenant:acme')
    expect(keys).toContain(policyHeadKey('acme'))
    expect(keys).toContain(policyVersionKey('acme', 1, 'n1'))
    expect(keys).toContain('tenancy:issuer:https://auth.example.test/t/acme')
    expect(keys).toContain('tenancy:host:auth.acme.test')
    expect(keys).toContain('tenancy:audience:https://api.acme.test')
    const byKey = new Map(exported.map((e) => [e.key, e]))
    expect(byKey.get('t:acme:oauth:session:s1')).toMatchObject({
      type: 'string',
      value: 'session acme',
    })
    expect((byKey.get('t:acme:oauth:session:s1') as { ttlMs: number }).ttlMs).toBeGreaterThan(0)
    expect(byKey.get('t:acme:rev:stream')).toMatchObject({ type: 'stream' })
    expect(byKey.get('t:acme:oauth:bcl:queue')).toEqual({
      key: 't:acme:oauth:bcl:queue',
      type: 'other',
    })
  })

  it('erasing a tenant deletes every key of it and changes no other key', async () => {
    const { store, registry } = await world()
    const before = await dump(store)
    const acmeKeys = [...before.keys()].filter((k) => k.startsWith('t:acme:'))
    expect(acmeKeys).toContain(policyHeadKey('acme'))
    const { deleted } = await eraseTenant(store, registry, 'acme')
    const after = await dump(store)
    expect(deleted).toBe(acmeKeys.length)
    expect([...after.keys()].filter((k) => k.startsWith('t:acme:') || k.includes('acme'))).toEqual(
      [],
    )
    for (const [key, value] of before) {
      if (key.startsWith('t:acme:') || key.includes('acme')) continue
      // The change stream gained the removal event; everything else is as it was.
      if (key === 'tenancy:changes') continue
      expect(after.get(key), key).toBe(value)
    }
    expect(await registry.get('acme')).toBeUndefined()
    expect((await registry.resolveIssuer('https://auth.example.test/t/globex'))?.id).toBe('globex')
  })

  it("the default tenant's export holds its policy sets, leaves out the registry and every tenant, and it cannot be erased", async () => {
    const { store, registry } = await world()
    const keys: string[] = []
    for await (const entry of exportTenant(store, 'default')) keys.push(entry.key)
    expect(keys.sort()).toEqual(
      [
        'oauth:bcl:queue',
        'oauth:rl:ip:192.0.2.1',
        'oauth:rt:abc',
        'oauth:session:s1',
        'rev:jti:j-default',
        'rev:stream',
        keySetStoreKeys('https://auth.example.test/t/default').document,
        keySetStoreKeys('https://auth.example.test/t/default').lease,
        policyHeadKey('default'),
        policyVersionKey('default', 1, 'n1'),
      ].sort(),
    )
    await expect(eraseTenant(store, registry, 'default')).rejects.toMatchObject({ status: 400 })
  })
})

describe('gatehouse tenants (the CLI)', () => {
  it('adds, lists, shows, exports, removes and deletes a tenant in L2', async () => {
    const store = createMemoryStore()
    const io = (files: Record<string, string> = {}, lines: string[] = []) => ({
      env: {},
      store,
      readDefinition: async (name: string) => files[name] ?? '',
      write: (line: string) => void lines.push(line),
    })
    const file = { 'acme.json': JSON.stringify(definition('acme')) }
    expect(await tenants(['add', 'acme.json'], io(file))).toMatchObject({ added: { id: 'acme' } })
    await tenants(['add', 'g.json'], io({ 'g.json': JSON.stringify(definition('globex')) }))
    const listed = (await tenants(['list'], io())) as { tenants: { id: string }[] }
    expect(listed.tenants.map((t) => t.id)).toEqual(['acme', 'globex'])
    expect(await tenants(['show', 'acme'], io())).toMatchObject({
      tenant: { id: 'acme' },
      users: 0,
    })
    await expect(tenants(['add', 'acme.json'], io(file))).rejects.toMatchObject({ status: 409 })
    await expect(tenants(['add', 'bad.json'], io({ 'bad.json': '{' }))).rejects.toMatchObject({
      status: 400,
    })
    await scopeStore(store, 'acme').set('oauth:rt:x', 'family')
    const lines: string[] = []
    expect(await tenants(['export', 'acme'], io({}, lines))).toBeUndefined()
    expect(lines.map((l) => JSON.parse(l).key)).toContain('t:acme:oauth:rt:x')
    await expect(tenants(['delete', 'acme'], io())).rejects.toThrow(/--yes/)
    expect(await tenants(['delete', 'acme', '--yes'], io())).toMatchObject({ erased: 'acme' })
    expect(await store.get('t:acme:oauth:rt:x')).toBeNull()
    expect(await tenants(['remove', 'globex'], io())).toEqual({ removed: 'globex' })
    expect(((await tenants(['list'], io())) as { tenants: unknown[] }).tenants).toEqual([])
    const secret = (await tenants(['admin-secret'], io())) as Record<string, string>
    expect(secret.GATEHOUSE_ADMIN_SECRET_HASH).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/)
  })
})
