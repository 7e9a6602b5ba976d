/**
 * The per-tenant contexts one isolate or process has built: bounded, built lazily from the registry
 * on a tenant's first request, dropped when the registry announces a change to that tenant
 * (registry-follower.ts), and evicted (second-chance, like a CPU cache) when the bound is reached.
 * A tenant that sent no request here costs nothing here.
 *
 * Lookups are by id, by exact issuer (the edge) and by custom host (the origin). Unknown issuers and
 * hosts are remembered as absent until the next registry change, so tokens naming a made-up issuer
 * cost one L2 read per issuer, not one per request.
 *
 * An entry is `live` while it may be served from caches keyed to it (the edge's L1 tags each verified
 * token with the entry that verified it). Dropping sets `live` to false, so everything tagged with it
 * stops being served at once.
 *
 * @example
 * const contexts = createTenantContexts({ registry, build: (record) => edgeTenant(record) })
 * const entry = await contexts.byIssuer(iss)
 */
import type { TenantRegistry } from './registry.ts'
import type { TenantId } from './tenant-id.ts'
import type { TenantRecord } from './tenant-record.ts'

export interface TenantEntry<C> {
  readonly id: TenantId
  readonly record: TenantRecord
  readonly context: C
  /** False once dropped, evicted or (for a build that raced a change) never cached. */
  live: boolean
  /** Second-chance bit for eviction. */
  used: boolean
}

export interface TenantContextsOptions<C> {
  registry: Pick<TenantRegistry, 'get' | 'resolveIssuer' | 'resolveHost'>
  build: (record: TenantRecord) => Promise<C> | C
  /** Called once when an entry stops being live (drop or eviction), e.g. to log or count. */
  onDrop?: (entry: TenantEntry<C>) => void
  /** The follower's epoch: a build during which it moved is used once and not cached. */
  epoch?: () => number
  /** Most contexts held. Default 10,000. */
  maxEntries?: number
  /** Most unknown issuers and hosts remembered. Default 10,000. */
  maxUnknown?: number
}

export interface TenantContexts<C> {
  byId(id: TenantId): Promise<TenantEntry<C> | undefined>
  byIssuer(issuer: string): Promise<TenantEntry<C> | undefined>
  byHost(host: string): Promise<TenantEntry<C> | undefined>
  /** A built entry for the issuer, without I/O (undefined when none is built). */
  cachedByIssuer(issuer: string): TenantEntry<C> | undefined
  /** A built entry of the tenant, without I/O and without counting as a use. */
  peek(id: TenantId): TenantEntry<C> | undefined
  /** A context that never changes or leaves (the default tenant), found like the others. */
  pin(record: TenantRecord, context: C): TenantEntry<C>
  /** The registry follower's callback: drop one tenant, or everything (`undefined`). */
  changed(id: TenantId | undefined): void
  /**
   * Calls `listener` once for every entry that stops being live from now on (drop or eviction), in
   * the same turn as its `live` goes false (e.g. to close what a verifier keeps per tenant).
   */
  whenDropped(listener: (entry: TenantEntry<C>) => void): void
  /** The built entries (not the pinned), without counting as uses. */
  entries(): IterableIterator<TenantEntry<C>>
  readonly size: number
}

export function createTenantContexts<C>(options: TenantContextsOptions<C>): TenantContexts<C> {
  const { registry, build, onDrop } = options
  const maxEntries = options.maxEntries ?? 10_000
  const maxUnknown = options.maxUnknown ?? 10_000
  const epoch = options.epoch ?? (() => 0)
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('maxEntries must be a positive integer')

  const byId = new Map<TenantId, TenantEntry<C>>()
  // Built and pinned entries together: a token's tenant is one lookup of its exact `iss`.
  const byIssuer = new Map<string, TenantEntry<C>>()
  const pinnedIssuers = new Set<string>()
  const byHost = new Map<string, TenantEntry<C>>()
  const pinned = new Map<string, TenantEntry<C>>()
  const pinnedById = new Map<TenantId, TenantEntry<C>>()
  const unknown = new Set<string>()
  const dropListeners: ((entry: TenantEntry<C>) => void)[] = onDrop ? [onDrop] : []

  function unindex(entry: TenantEntry<C>): void {
    if (!entry.live) return
    entry.live = false
    byId.delete(entry.id)
    if (byIssuer.get(entry.record.issuer) === entry) byIssuer.delete(entry.record.issuer)
    for (const host of entry.record.hosts) if (byHost.get(host) === entry) byHost.delete(host)
    for (const listener of dropListeners) listener(entry)
  }

  /** Second chance: the oldest entry not used since the last pass goes. */
  function evictOne(): void {
    for (;;) {
      const oldest = byId.values().next().value
      if (oldest === undefined) return
      if (!oldest.used) return unindex(oldest)
      oldest.used = false
      byId.delete(oldest.id)
      byId.set(oldest.id, oldest)
    }
  }

  function remember(miss: string): void {
    if (unknown.size >= maxUnknown) unknown.delete(unknown.values().next().value as string)
    unknown.add(miss)
  }

  async function load(
    find: () => Promise<TenantRecord | undefined>,
    missKey: string,
  ): Promise<TenantEntry<C> | undefined> {
    const before = epoch()
    const record = await find()
    if (!record || pinnedById.has(record.id) || pinnedIssuers.has(record.issuer)) {
      if (epoch() === before) remember(missKey)
      return undefined
    }
    // Another request may have built it meanwhile (no promise is shared between requests).
    const existing = byId.get(record.id)
    if (existing?.record.revision === record.revision) return existing
    const context = await build(record)
    const entry: TenantEntry<C> = { id: record.id, record, context, live: true, used: true }
    if (epoch() !== before) {
      // A change was applied while we read: this may predate it. Serve this request, cache nothing.
      entry.live = false
      return entry
    }
    const current = byId.get(record.id)
    if (current !== undefined) {
      if (current.record.revision >= record.revision) return current
      unindex(current)
    }
    if (byId.size >= maxEntries) evictOne()
    byId.set(entry.id, entry)
    byIssuer.set(record.issuer, entry)
    for (const host of record.hosts) byHost.set(host, entry)
    return entry
  }

  // Written only when it changes: a lookup of a tenant in use then dirties no line of its entry.
  const touch = (entry: TenantEntry<C>) => {
    if (!entry.used) entry.used = true
    return entry
  }

  return {
    async byId(id) {
      const found = byId.get(id)
      if (found) return touch(found)
      const pin = pinnedById.get(id)
      if (pin) return pin
      if (unknown.has(`id:${id}`)) return undefined
      return load(() => registry.get(id), `id:${id}`)
    },

    async byIssuer(issuer) {
      const found = byIssuer.get(issuer)
      if (found) return touch(found)
      if (unknown.has(`iss:${issuer}`)) return undefined
      return load(() => registry.resolveIssuer(issuer), `iss:${issuer}`)
    },

    async byHost(host) {
      const found = pinned.get(`host:${host}`) ?? byHost.get(host)
      if (found) return touch(found)
      if (unknown.has(`host:${host}`)) return undefined
      return load(() => registry.resolveHost(host), `host:${host}`)
    },

    cachedByIssuer(issuer) {
      const found = byIssuer.get(issuer)
      return found && touch(found)
    },

    peek: (id) => byId.get(id) ?? pinnedById.get(id),

    pin(record, context) {
      const entry: TenantEntry<C> = { id: record.id, record, context, live: true, used: true }
      pinnedById.set(record.id, entry)
      pinnedIssuers.add(record.issuer)
      byIssuer.set(record.issuer, entry)
      for (const host of record.hosts) pinned.set(`host:${host}`, entry)
      return entry
    },

    changed(id) {
      // A new tenant may be one we remembered as unknown.
      unknown.clear()
      if (id === undefined) {
        for (const entry of [...byId.values()]) unindex(entry)
        return
      }
      const entry = byId.get(id)
      if (entry) unindex(entry)
    },

    whenDropped(listener) {
      dropListeners.push(listener)
    },

    entries: () => byId.values(),

    get size() {
      return byId.size
    },
  }
}
