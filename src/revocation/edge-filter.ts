// The filter an edge isolate decides on, and where it comes from (./edge-sync.ts). A CoveredFilter
// keeps one invariant: its filter holds every revocation event at or before `lastId`. Everything that
// changes one goes through `extendFilter`, which only accepts a stream read that starts at or before
// `lastId` and is proven gap-free, so the cursor never moves past an event that was not applied.

import type { Store } from '../store/types.ts'
import { compareStreamIds, STREAM_START, type FeedRead } from './feed.ts'
import { createRevocationFilter } from './filter.ts'
import type { RevocationFilter, SbbfBackend } from './filter.ts'
import { revocationKeys } from './records.ts'
import type { RevocationLogger } from './snapshot-builder.ts'
import { decodeSnapshotText } from './snapshot-codec.ts'

export interface CoveredFilter {
  filter: RevocationFilter
  /** Every event at or before this stream id is in `filter`. */
  lastId: string
  /** `now()` when the snapshot it started from was loaded. */
  loadedAt: number
}

/**
 * The published snapshot, or undefined when there is none or it does not parse (logged: the
 * caller then reads the stream onto what it has).
 *
 * @example const base = await loadSnapshot({ store, backend }, now())
 */
export async function loadSnapshot(
  source: { store: Pick<Store, 'get'>; backend?: SbbfBackend; logger?: RevocationLogger },
  loadedAt: number,
): Promise<CoveredFilter | undefined> {
  const text = await source.store.get(revocationKeys.snapshot)
  if (text === null) return undefined
  try {
    const { filter, streamId } = decodeSnapshotText(text, source.backend)
    return { filter, lastId: streamId, loadedAt }
  } catch (error) {
    source.logger?.log({
      level: 'error',
      msg: 'revocation snapshot in L2 is invalid; reading the stream instead',
      errorName: error instanceof Error ? error.name : typeof error,
    })
    return undefined
  }
}

/** An empty filter that covers nothing yet: the whole stream is read onto it. */
export function emptyFilter(
  capacity: number,
  backend: SbbfBackend | undefined,
  loadedAt: number,
): CoveredFilter {
  const filter = createRevocationFilter({
    expectedItems: capacity,
    ...(backend === undefined ? {} : { backend }),
  })
  return { filter, lastId: STREAM_START, loadedAt }
}

/**
 * Adds a complete stream read that started at `from` to `target`. `from` must be at or before
 * `target.lastId` (it was `target.lastId` when the read began; ids only move forward), so the
 * invariant holds. Resolves whether any id was added.
 *
 * @example extendFilter(current, from, await readFeed(store, from, 10))
 */
export function extendFilter(target: CoveredFilter, from: string, feed: FeedRead): boolean {
  if (!feed.complete || compareStreamIds(from, target.lastId) > 0) {
    throw new RangeError('extendFilter: the read is not contiguous with the filter')
  }
  if (feed.items.length > 0) target.filter.addMany(feed.items)
  if (compareStreamIds(feed.lastId, target.lastId) > 0) target.lastId = feed.lastId
  return feed.items.length > 0
}
