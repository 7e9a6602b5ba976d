// Reading the revocation stream (`rev:stream`, XRANGE from a last-seen id) into filter items, with a
// proof that nothing was trimmed away in between, and comparing stream ids. Shared by the origin's
// snapshot builder and the edge sync loop.

import type { Store, StreamEntry } from '../store/types.ts'
import { parseStreamId } from './filter-snapshot.ts'
import { filterItem, isRevocableId, REVOCATION_KINDS, revocationKeys } from './records.ts'
import type { RevocationKind } from './records.ts'

/** Entries per XRANGE call: ~40 KB of reply, well under Upstash's request and response limits. */
export const FEED_PAGE_SIZE = 1000

/** The id before every entry: reading "after" it reads the whole stream. */
export const STREAM_START = '0-0'

/**
 * Orders two Redis stream ids (`<ms>-<seq>`) numerically: negative, zero or positive.
 *
 * @example compareStreamIds('9-0', '10-0') // < 0 (a string comparison would say > 0)
 */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a)
  const [bm, bs] = parseStreamId(b)
  if (am !== bm) return am < bm ? -1 : 1
  return as === bs ? 0 : as < bs ? -1 : 1
}

const isKind = (kind: unknown): kind is RevocationKind =>
  REVOCATION_KINDS.includes(kind as RevocationKind)

/**
 * The filter items named by stream entries. Entries that are not `{ kind, id }` with a known kind
 * and an acceptable id are skipped: the stream is written only by our writer, but a stray XADD must
 * not break every edge.
 *
 * @example toFilterItems([{ id: '1-0', fields: { kind: 'jti', id: 'abc' } }]) // ['jti:abc']
 */
export function toFilterItems(entries: readonly StreamEntry[]): string[] {
  const items: string[] = []
  for (const { fields } of entries) {
    if (isKind(fields.kind) && isRevocableId(fields.id))
      items.push(filterItem(fields.kind, fields.id))
  }
  return items
}

export interface FeedRead {
  /** Filter items in stream order. */
  items: string[]
  /** Id of the last entry read, or `afterId` when there was none. */
  lastId: string
  /** False when `maxPages` ran out before the end of the stream. */
  caughtUp: boolean
  /**
   * True when the read is proven gap-free: no entry after `afterId` had been trimmed when the read
   * ended (the stream's trim point, carried by its newest entry, is at or before `afterId`). False
   * also when the trim point is unknown. Never inferred from how many entries the stream holds.
   */
  complete: boolean
}

/**
 * Reads the stream after `afterId` page by page, up to `maxPages` pages, and proves whether the read
 * is complete. Callers apply `items` and move their cursor to `lastId` only when `complete`: a cursor
 * never moves past an entry that was not applied.
 *
 * @example
 * const { items, lastId, caughtUp, complete } = await readFeed(store, '1700000000000-0', 10)
 */
export async function readFeed(
  store: Pick<Store, 'readStream' | 'lastStreamEntry'>,
  afterId: string,
  maxPages: number,
): Promise<FeedRead> {
  const items: string[] = []
  let lastId = afterId
  let newest: StreamEntry | undefined
  let caughtUp = false
  for (let page = 0; page < maxPages && !caughtUp; page++) {
    const entries = await store.readStream(revocationKeys.stream, lastId, FEED_PAGE_SIZE)
    for (const item of toFilterItems(entries)) items.push(item)
    newest = entries.at(-1) ?? newest
    if (newest !== undefined) lastId = newest.id
    caughtUp = entries.length < FEED_PAGE_SIZE
  }
  // Caught up: the last entry read was the newest when the last page was read, so its trim point
  // was the stream's. Not caught up: ask for the newest entry. Nothing after afterId at all: the
  // newest entry is never trimmed, so nothing after afterId was ever appended.
  if (!caughtUp) newest = (await store.lastStreamEntry(revocationKeys.stream)) ?? undefined
  const trimmed = newest === undefined ? STREAM_START : newest.trimmedThrough
  const complete = trimmed !== null && compareStreamIds(trimmed, afterId) <= 0
  return { items, lastId, caughtUp, complete }
}
