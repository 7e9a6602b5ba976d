/**
 * A tenant's view of the L2 store: every key, stream name and script key goes through one prefixing
 * function, so code that takes a `Store` (the OAuth core, the revocation writer and edge sync, the
 * key publication, the limiters, the back-channel logout queue) serves one tenant without a tenant
 * parameter and cannot name a key of another. The adapters pass every key a Lua script touches as
 * `KEYS[n]` from the arguments they are given (a stream entry's atomic `record` included), so a script
 * run through this view touches only prefixed keys too; a key scan sees only the tenant's keys, named
 * as the tenant names them.
 *
 * The default tenant's namespace is empty (its keys keep their historical names); its view refuses
 * keys inside the registry (`tenancy:`) or another tenant's namespace (`t:{id}:`), so even a key
 * name built from input cannot cross over.
 *
 * @example
 * const acme = scopeStore(store, 'acme')
 * await acme.set('oauth:code:x', 'grant') // writes t:acme:oauth:code:x
 */
import type { Store } from '../store/types.ts'
import { isDefaultTenantKey, tenantNamespace, type TenantId } from './tenant-id.ts'

/** Keys only, for error messages: never the value. */
class ForeignKeyError extends TypeError {
  override readonly name = 'ForeignKeyError'
  constructor() {
    super("store key is outside this tenant's namespace")
  }
}

/** The function every key of a tenant's view goes through. */
export function tenantKeyFunction(tenant: TenantId): (key: string) => string {
  const prefix = tenantNamespace(tenant)
  if (prefix !== '') return (key) => prefix + key
  return (key) => {
    // A non-string is left to the adapter's own check (a TypeError there too).
    if (typeof key === 'string' && !isDefaultTenantKey(key)) throw new ForeignKeyError()
    return key
  }
}

/**
 * The store as `tenant` sees it.
 *
 * @example const store = scopeStore(root, context.tenant)
 */
export function scopeStore(store: Store, tenant: TenantId): Store {
  const k = tenantKeyFunction(tenant)
  // async: a refused key rejects like any store failure rather than throwing synchronously.
  return {
    get: async (key) => store.get(k(key)),
    set: async (key, value, options) => store.set(k(key), value, options),
    setAllIfAbsent: async (entries, options) =>
      store.setAllIfAbsent(
        entries.map(([key, value]) => [k(key), value] as const),
        options?.append
          ? { append: { ...options.append, stream: k(options.append.stream) } }
          : options,
      ),
    delete: async (...keys) => store.delete(...keys.map(k)),
    take: async (key) => store.take(k(key)),
    compareAndSwap: async (key, expected, next, options) =>
      store.compareAndSwap(k(key), expected, next, options),
    increment: async (key, ttlSeconds) => store.increment(k(key), ttlSeconds),
    expire: async (key, ttlSeconds) => store.expire(k(key), ttlSeconds),
    ttlMs: async (key) => store.ttlMs(k(key)),
    appendToStream: async (stream, fields, options) =>
      store.appendToStream(
        k(stream),
        fields,
        options?.record
          ? { ...options, record: { ...options.record, key: k(options.record.key) } }
          : options,
      ),
    readStream: async (stream, afterId, count) => store.readStream(k(stream), afterId, count),
    lastStreamEntry: async (stream) => store.lastStreamEntry(k(stream)),
    scanKeys: async (prefix, cursor, count) => {
      const namespace = tenantNamespace(tenant)
      const page = await store.scanKeys(k(prefix), cursor, count)
      return {
        cursor: page.cursor,
        keys: page.keys
          .filter((key) => (namespace === '' ? isDefaultTenantKey(key) : true))
          .map((key) => key.slice(namespace.length)),
      }
    },
    ping: () => store.ping(),
    schedule: async (key, member, dueAtMs) => store.schedule(k(key), member, dueAtMs),
    claimDue: async (key, nowMs, leaseMs, count) => store.claimDue(k(key), nowMs, leaseMs, count),
    unschedule: async (key, member) => store.unschedule(k(key), member),
  }
}
