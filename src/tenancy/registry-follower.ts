/**
 * Follows the registry's change stream (`tenancy:changes`) so an edge or origin drops what it built
 * for a tenant that changed or was removed, and learns which tenants had revocations (their doorbells,
 * tenant-revocation.ts), with the same staleness bound as revocation
 * (docs/revocation.md): a request is never decided on a registry view older than
 * `syncSeconds + syncTimeout` while L2 answers. So a tenant removed while its tokens sit in L1 stops
 * verifying at every edge within the revocation bound.
 *
 * The timing is the revocation sync's (src/revocation/sync-timeline.ts): syncs are started by requests
 * (Workers have no timers across requests), a routine one in the background (`maybeSync`, inside
 * `waitUntil`), and one the request waits for when the view is past the bound (`prepare`). No promise
 * is shared between requests.
 *
 * A follower starts at the newest change when it starts (everything it builds is read after that).
 * Every entry carries the stream's trim point (the Store contract's `trimmedThrough`); when it is past
 * the follower's cursor, changes were trimmed before the follower read them, so it drops everything
 * (`onChange(undefined)`). That needs ~10,000 changes between two of its syncs.
 *
 * One follower serves every consumer of a process: the origin's routing and its `/verify` each
 * `listen` to the same one (one read of the stream per sync, one view, one bound).
 *
 * @example
 * const follower = createRegistryFollower({ store, onChange: (id) => contexts.changed(id) })
 * follower.listen({ onChange: (id) => verifierContexts.changed(id) })
 * follower.maybeSync((p) => ctx.waitUntil(p))
 */
import type { Clock } from '../core/types.ts'
import type { RevocationPolicy, RevocationSync } from '../revocation/edge-sync.ts'
import { compareStreamIds } from '../revocation/feed.ts'
import { prepareRequest, SyncTimeline } from '../revocation/sync-timeline.ts'
import type { Store, StreamEntry } from '../store/types.ts'
import { registryKeys } from './registry-keys.ts'
import { isTenantId, type TenantId } from './tenant-id.ts'

export interface FollowerLogger {
  log(record: {
    level: 'debug' | 'info' | 'warn' | 'error'
    msg: string
    [k: string]: unknown
  }): void
}

/** What a consumer of the change stream is told. */
export interface RegistryListener {
  /** A tenant changed (`id`), or anything may have (`undefined`). */
  onChange: (id: TenantId | undefined) => void
  /** A revocation in tenant `id` was acknowledged (its doorbell, tenant-revocation.ts). */
  onRevocation?: (id: TenantId) => void
}

export interface RegistryFollowerOptions extends RegistryListener {
  /** The root store. */
  store: Pick<Store, 'readStream' | 'lastStreamEntry'>
  now?: Clock
  /** The revocation sync's settings (config.revocation): the same bound. Defaults 2 s, 1000 ms, 30 s, open. */
  syncSeconds?: number
  syncTimeoutMs?: number
  maxStalenessSeconds?: number
  policy?: RevocationPolicy
  logger?: FollowerLogger
}

export interface RegistryFollowerStatus {
  lastSyncAt: number | null
  ageSeconds: number | null
  cursor: string | null
  stale: boolean
  boundSeconds: number
  lastError: string | null
}

/** The revocation sync's request-facing part: `epoch` goes up with every change applied. */
export type RegistryFollower = Pick<
  RevocationSync,
  'policy' | 'boundSeconds' | 'epoch' | 'maybeSync' | 'prepare' | 'syncNow'
> & {
  status(): RegistryFollowerStatus
  /** Another consumer of the same changes (told from the next change on). */
  listen(listener: RegistryListener): void
}

const PAGE = 1000
const MAX_PAGES = 10

class FollowerTimeout extends Error {
  override readonly name = 'FollowerTimeout'
}

export function createRegistryFollower(options: RegistryFollowerOptions): RegistryFollower {
  const { store, logger } = options
  const listeners: RegistryListener[] = [options]
  const now = options.now ?? (() => Date.now())
  const syncMs = (options.syncSeconds ?? 2) * 1000
  const timeoutMs = options.syncTimeoutMs ?? 1000
  const maxStaleMs = (options.maxStalenessSeconds ?? 30) * 1000
  const policy = options.policy ?? 'open'
  const boundMs = syncMs + timeoutMs
  if (!(syncMs >= 100 && timeoutMs >= 50 && maxStaleMs >= boundMs))
    throw new RangeError('registry follower: maxStaleness must be at least sync + timeout')
  const timeline = new SyncTimeline({
    syncMs,
    timeoutMs,
    boundSeconds: boundMs / 1000,
    boundMs,
    maxStaleMs,
    policy,
    reloadMs: syncMs,
    initialCapacity: 1,
    maxPages: MAX_PAGES,
  })

  let cursor: string | undefined

  const changed = (id: TenantId | undefined): void => {
    follower.epoch++
    for (const listener of listeners) listener.onChange(id)
  }

  /** Applies one page and moves the cursor, in one synchronous step. */
  function apply(entries: StreamEntry[], from: string): void {
    if (cursor !== undefined && compareStreamIds(cursor, from) > 0) return // a later sync moved on
    // The newest entry read holds the trim point: past our cursor, changes were lost to us.
    const trimmed = entries.at(-1)?.trimmedThrough
    if (trimmed && compareStreamIds(trimmed, from) > 0) changed(undefined)
    for (const { fields } of entries) {
      const id = isTenantId(fields.id) ? fields.id : undefined
      if (fields.kind === 'revocation' && id !== undefined)
        for (const listener of listeners) listener.onRevocation?.(id)
      else changed(id)
    }
    const last = entries.at(-1)
    if (last) cursor = last.id
  }

  async function syncOnce(startedAt: number): Promise<void> {
    if (cursor === undefined) {
      const newest = await store.lastStreamEntry(registryKeys.changes)
      if (cursor === undefined) {
        cursor = newest?.id ?? '0-0'
        changed(undefined) // nothing built before the first sync is trusted
      }
    }
    for (let page = 0; page < MAX_PAGES; page++) {
      const from = cursor
      const entries = await store.readStream(registryKeys.changes, from, PAGE)
      apply(entries, from)
      if (entries.length < PAGE) return timeline.covered(startedAt)
    }
    timeline.behind = true
  }

  async function runSync(startedAt: number): Promise<boolean> {
    const token = timeline.started(startedAt)
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FollowerTimeout('sync timed out')), timeoutMs)
    })
    try {
      timeline.behind = false
      await Promise.race([syncOnce(startedAt), timeout])
      if (timeline.succeeded())
        logger?.log({ level: 'info', msg: 'tenant registry sync recovered' })
      return true
    } catch (error) {
      const errorName = error instanceof Error ? error.name : typeof error
      if (timeline.failed(startedAt, errorName))
        logger?.log({ level: 'warn', msg: 'tenant registry sync failed', errorName })
      return false
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      timeline.finished(token)
    }
  }

  const detach = (promise: Promise<unknown>): void => void promise.catch(() => {})

  function maybeSync(waitUntil: (promise: Promise<unknown>) => void = detach): void {
    const t = now()
    if (!timeline.dueAt(t) || timeline.busyAt(t)) return
    if (timeline.ageAt(t) > boundMs) return // the next request's prepare() syncs in the foreground
    waitUntil(runSync(t))
  }

  // `epoch` a field, not a getter (a getter gives each instance a hidden class of its own; see
  // src/revocation/edge-sync.ts): the request path reads it.
  const follower: Omit<RegistryFollower, 'epoch'> & { epoch: number } = {
    policy,
    boundSeconds: boundMs / 1000,
    epoch: 0,
    maybeSync,

    prepare: () =>
      prepareRequest(timeline, { syncMs, boundMs }, now(), {
        background: () => maybeSync(),
        sync: runSync,
        stale: (t) => timeline.staleAt(t),
        now,
      }),

    syncNow: () => runSync(now()),

    listen(listener) {
      listeners.push(listener)
    },

    status() {
      const t = now()
      const age = timeline.ageAt(t)
      return {
        lastSyncAt: timeline.lastSyncAt ?? null,
        ageSeconds: age === Infinity ? null : age / 1000,
        cursor: cursor ?? null,
        stale: timeline.staleAt(t),
        boundSeconds: boundMs / 1000,
        lastError: timeline.lastError ?? null,
      }
    },
  }
  return follower
}
