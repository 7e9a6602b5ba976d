// Reading the revocation stream (`rev:stream`, XRANGE from a last-seen id) into filter items, and
// comparing stream ids. Shared by the origin's snapshot builder and the edge sync loop.

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

/** The later of two stream ids. */
export const laterStreamId = (a: string, b: string): string => (compareStreamIds(a, b) >= 0 ? a : b)

/** Milliseconds part of a stream id: when Redis appended the entry. */
export const streamIdMs = (id: string): number => Number(parseStreamId(id)[0])

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
  /** Stream entries read (including skipped ones). */
  count: number
  /** False when `maxPages` ran out before the end of the stream. */
  caughtUp: boolean
}

/**
 * Reads the stream after `afterId` page by page, up to `maxPages` pages. With `sinceMs`, entries
 * appended at or before that time are read (and counted) but not returned as items.
 *
 * @example
 * const { items, lastId, caughtUp } = await readFeed(store, '1700000000000-0', 10)
 */
export async function readFeed(
  store: Pick<Store, 'readStream'>,
  afterId: string,
  maxPages: number,
  sinceMs = -1,
): Promise<FeedRead> {
  const items: string[] = []
  let lastId = afterId
  let count = 0
  for (let page = 0; page < maxPages; page++) {
    const entries = await store.readStream(revocationKeys.stream, lastId, FEED_PAGE_SIZE)
    const kept = sinceMs < 0 ? entries : entries.filter((e) => streamIdMs(e.id) > sinceMs)
    for (const item of toFilterItems(kept)) items.push(item)
    count += entries.length
    const last = entries.at(-1)
    if (last !== undefined) lastId = last.id
    if (entries.length < FEED_PAGE_SIZE) return { items, lastId, count, caughtUp: true }
  }
  return { items, lastId, count, caughtUp: false }
}

/** The oldest entry's id (the stream may have been trimmed up to it), or undefined when empty. */
export async function oldestStreamId(
  store: Pick<Store, 'readStream'>,
): Promise<string | undefined> {
  const [first] = await store.readStream(revocationKeys.stream, STREAM_START, 1)
  return first?.id
}
