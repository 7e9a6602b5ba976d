// The origin's half of the edge filter: keep a split-block Bloom filter of every revocation that can
// still matter, and publish it to L2 as one binary snapshot (base64 in `rev:snapshot`) stamped with
// the stream id it covers. An edge loads it in one read and then follows the stream from that id.
//
// The invariant every snapshot keeps: its filter holds every revocation whose event id is at or
// before its stream id (and whose record has not expired). Two ways keep it:
// - extending: reading the stream after the snapshot's id, applied only when the read is proven
//   complete (feed.ts: every event carries the stream's trim point);
// - rebuilding from the records themselves: read the newest stream id H first, then scan every
//   `rev:*` record. Record and event are written in one atomic step, so every event up to H had its
//   record in L2 before the scan began, and a full scan returns every key that exists throughout it.
//   Records expire when no token they revoke can still be valid, so this also drops expired ids.
// A stream gap (events trimmed before they were read) therefore always leads to a rebuild from the
// records, never to a snapshot that skips them; how many entries the stream holds is never consulted.

import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import { compareStreamIds, readFeed, STREAM_START } from './feed.ts'
import { createRevocationFilter } from './filter.ts'
import type { RevocationFilter, SbbfBackend } from './filter.ts'
import { sbbfFalsePositiveRate } from './filter-layout.ts'
import { filterItem, parseRecordKey, RECORD_KEY_PREFIX, revocationKeys } from './records.ts'
import { decodeSnapshotText, encodeSnapshotText } from './snapshot-codec.ts'

/** Structurally the HTTP layer's Logger; revocation/ does not import http/. */
export interface RevocationLogger {
  log(record: {
    level: 'debug' | 'info' | 'warn' | 'error'
    msg: string
    [field: string]: unknown
  }): void
}

export interface SnapshotBuilderOptions {
  store: Pick<
    Store,
    'get' | 'set' | 'compareAndSwap' | 'readStream' | 'lastStreamEntry' | 'scanKeys'
  >
  /** Longest access-token lifetime, seconds: the filter is rebuilt from the records this often. */
  maxAccessTokenLifetimeSeconds: number
  /** Matches the writer's; revocations stay relevant for lifetime + leeway. Default 60. */
  clockLeewaySeconds?: number
  /** Ids the filter is sized for at least (it grows with the stream). Default 100,000. */
  expectedItems?: number
  /** Default 0.01 (DESIGN.md: ≤ 1% false positives). */
  falsePositiveRate?: number
  /**
   * Largest request the store accepts, bytes. The snapshot is written with compare-and-swap (which
   * sends the old and the new value) while both fit, else with one SET. Default 1,000,000, below
   * every Upstash plan's request limit (10 MB on "Free" and "Pay as you go").
   */
  maxRequestBytes?: number
  backend?: SbbfBackend
  now?: Clock
  logger?: RevocationLogger
}

export interface SnapshotBuildResult {
  /** The stream id the published snapshot covers. */
  streamId: string
  /** Ids in the filter (duplicates counted). */
  entries: number
  /** Length of the stored base64 text. */
  bytes: number
  /** True when this run wrote L2; false when nothing changed or a newer snapshot was there. */
  written: boolean
  /** True when the filter was rebuilt from the revocation records rather than extended. */
  rebuilt: boolean
}

export interface SnapshotBuilder {
  run(): Promise<SnapshotBuildResult>
}

interface State {
  filter: RevocationFilter
  streamId: string
  /** `now()` when the filter was last rebuilt from the records (0 when adopted from L2). */
  builtAt: number
}

/** Far above any realistic page count: a runaway stream is still read in bounded steps per run. */
const MAX_PAGES_PER_RUN = 10_000
/** Keys per SCAN call. */
const SCAN_PAGE = 1000

/**
 * Builds the snapshot builder; call `run()` on a timer (see ./snapshot-schedule.ts). Each run:
 *
 * 1. reads the stored snapshot and adopts it if another origin published a newer one;
 * 2. rebuilds the filter from the revocation records (on a cold start, once per token lifetime, when
 *    it holds more ids than it was sized for, or when the stream lost events before they were read),
 *    or else extends it with the stream entries after its id;
 * 3. publishes it, never replacing a snapshot that covers a later stream id: by compare-and-swap
 *    when old and new fit in one request, else by one SET after the same check (an older snapshot
 *    racing in is safe anyway: edges read the stream from its id and catch up).
 *
 * @example
 * const builder = createSnapshotBuilder({ store, maxAccessTokenLifetimeSeconds: 900, backend: loadSbbfBackend() })
 * const { streamId, entries, bytes } = await builder.run()
 */
export function createSnapshotBuilder(options: SnapshotBuilderOptions): SnapshotBuilder {
  const { store, maxAccessTokenLifetimeSeconds: lifetime, backend, logger } = options
  const leeway = options.clockLeewaySeconds ?? 60
  const expectedItems = options.expectedItems ?? 100_000
  const falsePositiveRate = options.falsePositiveRate ?? 0.01
  const maxRequestBytes = options.maxRequestBytes ?? 1_000_000
  const now = options.now ?? Date.now
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > 86_400) {
    throw new RangeError('maxAccessTokenLifetimeSeconds must be an integer from 1 to 86400')
  }
  if (!Number.isInteger(leeway) || leeway < 0 || leeway > 300) {
    throw new RangeError('clockLeewaySeconds must be an integer from 0 to 300')
  }
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1024) {
    throw new RangeError('maxRequestBytes must be an integer of at least 1024')
  }
  // Validates expectedItems and falsePositiveRate once, here.
  createRevocationFilter({ expectedItems, falsePositiveRate })
  const rebuildMs = (lifetime + leeway) * 1000

  let state: State | undefined

  const sized = (count: number) =>
    createRevocationFilter({
      expectedItems: Math.max(expectedItems, Math.ceil(count * 1.25)),
      falsePositiveRate,
      ...(backend === undefined ? {} : { backend }),
    })

  // More ids than the filter was sized for: its false-positive rate has drifted past the target.
  const overCapacity = (filter: RevocationFilter) =>
    sbbfFalsePositiveRate(filter.insertedCount, filter.blockCount) > falsePositiveRate

  async function readStored(): Promise<{ text: string; streamId: string; state?: State } | null> {
    const text = await store.get(revocationKeys.snapshot)
    if (text === null) return null
    try {
      const { filter, streamId } = decodeSnapshotText(text, backend)
      return { text, streamId, state: { filter, streamId, builtAt: 0 } }
    } catch (error) {
      logger?.log({
        level: 'error',
        msg: 'stored revocation snapshot is invalid; replacing it',
        errorName: error instanceof Error ? error.name : typeof error,
      })
      return { text, streamId: STREAM_START }
    }
  }

  /** A filter of every live record, covering the stream up to its newest id read beforehand. */
  async function rebuildFromRecords(): Promise<State> {
    const builtAt = now()
    const head = await store.lastStreamEntry(revocationKeys.stream)
    const items = new Set<string>()
    let cursor = '0'
    do {
      const page = await store.scanKeys(RECORD_KEY_PREFIX, cursor, SCAN_PAGE)
      for (const key of page.keys) {
        const record = parseRecordKey(key)
        if (record !== undefined) items.add(filterItem(record.kind, record.id))
      }
      cursor = page.cursor
    } while (cursor !== '0')
    const filter = sized(items.size)
    filter.addMany([...items])
    return { filter, streamId: head?.id ?? STREAM_START, builtAt }
  }

  /** Extends `current` with the stream after its id; false when the stream has a gap there. */
  async function extend(current: State): Promise<boolean> {
    const feed = await readFeed(store, current.streamId, MAX_PAGES_PER_RUN)
    if (!feed.complete) return false
    current.filter.addMany(feed.items)
    current.streamId = feed.lastId
    return true
  }

  return {
    async run() {
      const startedAt = now()
      const stored = await readStored()
      if (
        stored?.state !== undefined &&
        (state === undefined || compareStreamIds(stored.streamId, state.streamId) > 0)
      ) {
        state = stored.state
      }

      let rebuilt = false
      const due =
        state === undefined || startedAt - state.builtAt >= rebuildMs || overCapacity(state.filter)
      if (state === undefined || due || !(await extend(state))) {
        if (state !== undefined && !due) {
          logger?.log({
            level: 'warn',
            msg: 'revocation stream was trimmed past the snapshot: rebuilding from the records',
          })
        }
        state = await rebuildFromRecords()
        rebuilt = true
      }

      const text = encodeSnapshotText(state.filter.toSnapshot(state.streamId))
      const result = {
        streamId: state.streamId,
        entries: state.filter.insertedCount,
        bytes: text.length,
        rebuilt,
      }
      if (stored !== null && text === stored.text) return { ...result, written: false }
      if (stored !== null && compareStreamIds(stored.streamId, state.streamId) > 0) {
        return { ...result, written: false }
      }
      const expected = stored?.text ?? null
      let written: boolean
      if ((expected?.length ?? 0) + text.length <= maxRequestBytes) {
        written = await store.compareAndSwap(revocationKeys.snapshot, expected, text)
      } else {
        written = await store.set(revocationKeys.snapshot, text)
      }
      return { ...result, written }
    },
  }
}
