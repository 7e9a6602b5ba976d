/**
 * The tenant registry in L2: adding, changing and removing tenants, and finding one by id, exact
 * issuer or custom host. Every change is announced on the `tenancy:changes` stream, which every edge
 * and origin follows (registry-follower.ts) to drop what it built for that tenant.
 *
 * A change costs a handful of single-key operations whatever the number of tenants (no list is
 * rewritten), and each step that could race is atomic on its own: an issuer or host is claimed with
 * SET NX (two tenants can never share one), the record is written with compare-and-swap (two admins
 * adding the same id: one wins, the other gets 409). The record is written last, so a tenant becomes
 * visible whole; a claim left behind by a crash names a tenant without a matching record and is
 * taken over by the next add. An add with nothing in its way (the usual one) writes the record, its
 * settings, every claim and its change in one all-or-nothing step instead (`setAllIfAbsent`: one
 * round trip), and takes the step-by-step path only when a key it needs exists. Audiences are claimed the same way: a token minted for one tenant's API
 * can never be one another tenant's verifier accepts, because no two tenants share an audience. The
 * default tenant's issuer, hosts and audiences are reserved by the origin (`reserveDefault`).
 *
 * @example
 * const registry = createTenantRegistry({ store })
 * await registry.add({ id: 'acme', issuer: 'https://auth.example.com/t/acme', audiences: ['https://api.acme.example'] })
 * await registry.resolveIssuer('https://auth.example.com/t/acme') // the record
 */
import { GatehouseError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import { CHANGES_MAX_LENGTH, registryKeys, settingsKey } from './registry-keys.ts'
import { scopeStore, tenantKeyFunction } from './scoped-store.ts'
import { DEFAULT_TENANT, isTenantId, type TenantId } from './tenant-id.ts'
import {
  parseTenantDefinition,
  parseTenantRecord,
  parseTenantSettings,
  type TenantDefinition,
  type TenantRecord,
  type TenantSettings,
} from './tenant-record.ts'

export interface TenantRegistryOptions {
  /** The root store (not a tenant's view). */
  store: Store
  now?: Clock
}

/** A tenant and its settings, as an operator sees them. */
export interface TenantView {
  record: TenantRecord
  settings: TenantSettings | undefined
}

export interface TenantRegistry {
  /** Publishes a new tenant; 409 when the id, issuer or a host is taken. */
  add(definition: unknown): Promise<TenantRecord>
  /** Replaces a tenant's definition (same id); 404 when it does not exist. */
  update(definition: unknown): Promise<TenantRecord>
  /** Unpublishes a tenant: from the next sync on, no edge or origin serves it. Its data stays. */
  remove(id: TenantId): Promise<TenantRecord>
  get(id: TenantId): Promise<TenantRecord | undefined>
  /** One page of tenants (a key scan of the records); pass `cursor` back until it is '0'. */
  list(cursor?: string, count?: number): Promise<{ tenants: TenantRecord[]; cursor: string }>
  /** The record and the settings (for `show` and export). */
  view(id: TenantId): Promise<TenantView | undefined>
  /** The tenant whose issuer is exactly `issuer`. */
  resolveIssuer(issuer: string): Promise<TenantRecord | undefined>
  /** The tenant served on the custom host `host` (`auth.acme.example`, lower case). */
  resolveHost(host: string): Promise<TenantRecord | undefined>
  /**
   * Reserves the default tenant's issuer, hosts and audiences, so no tenant can take them; resolves
   * the ones a tenant already holds (the operator must move that tenant).
   */
  reserveDefault(claims: {
    issuer: string
    hosts?: string[]
    audiences?: string[]
  }): Promise<string[]>
}

/** 404: no such tenant. */
export class TenantNotFoundError extends GatehouseError {
  override readonly name: string = 'TenantNotFoundError'
  constructor() {
    super({
      code: 'tenant_not_found',
      description: 'No such tenant.',
      status: 404,
      rfcError: 'invalid_request',
    })
  }
}

/** 409: the id, the issuer or a host already belongs to a tenant. */
export class TenantConflictError extends GatehouseError {
  override readonly name: string = 'TenantConflictError'
  constructor(what: 'id' | 'issuer' | 'host' | 'audience' | 'revision') {
    const description = {
      id: 'A tenant with this id exists.',
      issuer: 'Another tenant has this issuer.',
      host: 'Another tenant is served on one of these hosts.',
      audience: 'Another tenant has one of these audiences.',
      revision: 'The tenant changed meanwhile; read it again and retry.',
    }[what]
    super({ code: `tenant_${what}_taken`, description, status: 409, rfcError: 'invalid_request' })
  }
}

/** 128 random bits, hex: a settings document's tag. */
const randomTag = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')

const checkId = (id: unknown): TenantId => {
  if (!isTenantId(id)) throw new TenantNotFoundError()
  return id
}

/** Whether a tenant's record holds the value a claim is for (so its claim is not stale). */
type Holds = (record: TenantRecord) => boolean

export function createTenantRegistry(options: TenantRegistryOptions): TenantRegistry {
  const { store } = options
  const now = options.now ?? Date.now
  const seconds = () => Math.floor(now() / 1000)

  const get = async (id: TenantId) => parseTenantRecord(await store.get(registryKeys.record(id)))

  /** Claims `key` for `id`; a claim naming a tenant that no longer holds it is taken over. */
  async function claim(key: string, id: TenantId, holds: Holds) {
    if (await store.set(key, id, { ifAbsent: true })) return true
    const owner = await store.get(key)
    if (owner === id) return true
    if (owner === null) return store.set(key, id, { ifAbsent: true })
    if (owner === DEFAULT_TENANT) return false
    const record = isTenantId(owner) ? await get(owner) : undefined
    if (record && holds(record)) return false
    return store.compareAndSwap(key, owner, id)
  }

  /** Releases a claim only if it is still ours. */
  const release = (key: string, id: TenantId) => store.compareAndSwap(key, id, null)

  /**
   * Claims the issuer, hosts and audiences of `d`; on any conflict releases what it took and throws
   * 409 (naming the issuer first, then hosts, then audiences). The claims are independent SET NX
   * operations, so they are sent together: an add waits for one round trip of claims, not one per
   * claim (each round trip is a wake-up of the store on a busy machine: the add's tail latency).
   */
  async function claimAll(d: TenantDefinition, keep: TenantRecord | undefined): Promise<void> {
    const wanted = claimsOf(d, keep)
    const results = await Promise.allSettled(wanted.map((w) => claim(w.key, d.id, w.held)))
    const refused = results.findIndex((r) => r.status !== 'fulfilled' || !r.value)
    if (refused === -1) return
    // Release only what this add took; every claim has settled, so none lands after the release.
    for (const [i, result] of results.entries())
      if (result.status === 'fulfilled' && result.value) await release(wanted[i]!.key, d.id)
    const failed = results[refused]
    if (failed?.status === 'rejected') throw failed.reason
    throw new TenantConflictError(wanted[refused]!.kind)
  }

  /** The claims `d` needs that `keep` (the tenant's current record, if any) does not hold yet. */
  function claimsOf(d: TenantDefinition, keep: TenantRecord | undefined) {
    const wanted: { kind: 'issuer' | 'host' | 'audience'; key: string; held: Holds }[] = []
    if (keep?.issuer !== d.issuer)
      wanted.push({
        kind: 'issuer',
        key: registryKeys.issuer(d.issuer),
        held: (r) => r.issuer === d.issuer,
      })
    for (const kind of ['host', 'audience'] as const) {
      const list = (r: Pick<TenantRecord, 'hosts' | 'audiences'>) =>
        kind === 'host' ? r.hosts : r.audiences
      for (const value of list(d))
        if (!(keep && list(keep).includes(value)))
          wanted.push({
            kind,
            key: registryKeys[kind](value),
            held: (r) => list(r).includes(value),
          })
    }
    return wanted
  }

  /** Releases what `before` held and `after` (if any) no longer does. */
  async function releaseDropped(before: TenantRecord, after: TenantRecord | undefined) {
    const id = before.id
    if (after?.issuer !== before.issuer) await release(registryKeys.issuer(before.issuer), id)
    for (const host of before.hosts)
      if (!after?.hosts.includes(host)) await release(registryKeys.host(host), id)
    for (const audience of before.audiences)
      if (!after?.audiences.includes(audience)) await release(registryKeys.audience(audience), id)
  }

  /** The change entry that tells every edge and origin to drop what it built for the tenant. */
  const changeOf = (record: TenantRecord) => ({
    stream: registryKeys.changes,
    fields: { kind: 'tenant', id: record.id, revision: String(record.revision) },
    maxLength: CHANGES_MAX_LENGTH,
  })

  async function announce(record: TenantRecord): Promise<void> {
    const { stream, fields, maxLength } = changeOf(record)
    await store.appendToStream(stream, fields, { maxLength })
  }

  const settingsOf = (d: TenantDefinition): string =>
    JSON.stringify({ format: 1, oauth: d.oauth } satisfies TenantSettings)

  /** Writes a new, immutable settings document and resolves its tag. */
  async function writeSettings(d: TenantDefinition): Promise<string> {
    const tag = randomTag()
    await scopeStore(store, d.id).set(settingsKey(tag), settingsOf(d))
    return tag
  }

  const newRecord = (d: TenantDefinition, settings: string): TenantRecord => {
    const at = seconds()
    return {
      format: 1,
      id: d.id,
      revision: 1,
      issuer: d.issuer,
      hosts: d.hosts,
      audiences: d.audiences,
      quotas: d.quotas,
      settings,
      createdAt: at,
      updatedAt: at,
    }
  }

  /**
   * The usual add, where nothing is in the way: the record, the settings document, every claim and
   * the change announcing it in one atomic step that happens only if none of those keys exists
   * (`setAllIfAbsent`: one round trip instead of four one after another, each of them a chance to
   * be descheduled on a busy machine, which is the add's tail latency). `undefined` when any key
   * exists (the id, a claim, even a stale one): nothing was written or announced, and the
   * step-by-step add decides (409, or a stale claim taken over). The tenant becomes visible whole.
   */
  async function addAtOnce(d: TenantDefinition): Promise<TenantRecord | undefined> {
    const record = newRecord(d, randomTag())
    const written = await store.setAllIfAbsent(
      [
        ...claimsOf(d, undefined).map((w) => [w.key, d.id] as const),
        [tenantKeyFunction(d.id)(settingsKey(record.settings)), settingsOf(d)],
        [registryKeys.record(d.id), JSON.stringify(record)],
      ],
      { append: changeOf(record) },
    )
    return written ? record : undefined
  }

  const dropSettings = (id: TenantId, tag: string) => scopeStore(store, id).delete(settingsKey(tag))

  return {
    get,

    async list(cursor = '0', count = 100) {
      const page = await store.scanKeys(registryKeys.recordPrefix, cursor, count)
      const records = await Promise.all(
        page.keys.map(async (key) => parseTenantRecord(await store.get(key))),
      )
      return {
        tenants: records.filter((r): r is TenantRecord => r !== undefined),
        cursor: page.cursor,
      }
    },

    async add(input) {
      const d = parseTenantDefinition(input)
      const added = await addAtOnce(d)
      if (added) return added
      if ((await store.get(registryKeys.record(d.id))) !== null) throw new TenantConflictError('id')
      // The settings document has a fresh random name: written beside the claims, dropped if they fail.
      const settings = writeSettings(d)
      settings.catch(() => {}) // awaited below; failing early is not an unhandled rejection
      try {
        await claimAll(d, undefined)
      } catch (error) {
        await settings.then((tag) => dropSettings(d.id, tag)).catch(() => {})
        throw error
      }
      const record = newRecord(d, await settings)
      if (!(await store.compareAndSwap(registryKeys.record(d.id), null, JSON.stringify(record)))) {
        // Another add of the same id won between our check and here; its claims are its own.
        await dropSettings(d.id, record.settings)
        throw new TenantConflictError('id')
      }
      await announce(record)
      return record
    },

    async update(input) {
      const d = parseTenantDefinition(input)
      const key = registryKeys.record(d.id)
      const currentText = await store.get(key)
      const current = parseTenantRecord(currentText)
      if (!current) throw new TenantNotFoundError()
      await claimAll(d, current)
      const record: TenantRecord = {
        ...current,
        revision: current.revision + 1,
        issuer: d.issuer,
        hosts: d.hosts,
        audiences: d.audiences,
        quotas: d.quotas,
        settings: await writeSettings(d),
        updatedAt: seconds(),
      }
      if (!(await store.compareAndSwap(key, currentText, JSON.stringify(record)))) {
        await dropSettings(d.id, record.settings)
        throw new TenantConflictError('revision')
      }
      await announce(record)
      await dropSettings(d.id, current.settings)
      // What the tenant no longer holds is released only once the new record is in place.
      await releaseDropped(current, record)
      return record
    },

    async remove(rawId) {
      const id = checkId(rawId)
      const key = registryKeys.record(id)
      const text = await store.get(key)
      const record = parseTenantRecord(text)
      if (!record || text === null) throw new TenantNotFoundError()
      if (!(await store.compareAndSwap(key, text, null))) throw new TenantConflictError('revision')
      await announce({ ...record, revision: record.revision + 1 })
      await releaseDropped(record, undefined)
      return record
    },

    async view(rawId) {
      const record = await get(checkId(rawId))
      if (!record) return undefined
      const settings = parseTenantSettings(
        await scopeStore(store, record.id).get(settingsKey(record.settings)),
      )
      return { record, settings }
    },

    async resolveIssuer(issuer) {
      if (typeof issuer !== 'string' || issuer.length === 0 || issuer.length > 512) return undefined
      const id = await store.get(registryKeys.issuer(issuer))
      if (!isTenantId(id)) return undefined
      const record = await get(id)
      // Exact match against the record itself: a stale claim never routes a token.
      return record?.issuer === issuer ? record : undefined
    },

    async reserveDefault(claims) {
      const keys = [
        registryKeys.issuer(claims.issuer),
        ...(claims.hosts ?? []).map(registryKeys.host),
        ...(claims.audiences ?? []).map(registryKeys.audience),
      ]
      const held: string[] = []
      for (const key of keys) {
        if (await store.set(key, DEFAULT_TENANT, { ifAbsent: true })) continue
        const owner = await store.get(key)
        if (owner === DEFAULT_TENANT) continue
        const record = isTenantId(owner) ? await get(owner) : undefined
        // A claim whose tenant is gone is taken over; a live one is reported.
        if (record === undefined && (await store.compareAndSwap(key, owner, DEFAULT_TENANT)))
          continue
        held.push(key.slice('tenancy:'.length))
      }
      return held
    },

    async resolveHost(host) {
      if (typeof host !== 'string' || host.length === 0 || host.length > 255) return undefined
      const id = await store.get(registryKeys.host(host.toLowerCase()))
      if (!isTenantId(id)) return undefined
      const record = await get(id)
      return record?.hosts.includes(host.toLowerCase()) ? record : undefined
    },
  }
}
