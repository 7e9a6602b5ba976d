// The origin's half of the edge filter: keep a split-block Bloom filter of every revocation that can
// still matter, and publish it to L2 as one binary snapshot (base64 in `rev:snapshot`) stamped with
// the stream id it covers. An edge loads it in one read and then follows the stream from that id.

import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import {
  compareStreamIds,
  laterStreamId,
  oldestStreamId,
  readFeed,
  STREAM_START,
  streamIdMs,
} from './feed.ts'
import { createRevocationFilter } from './filter.ts'
import type { RevocationFilter, SbbfBackend } from './filter.ts'
import { sbbfFalsePositiveRate } from './filter-layout.ts'
import { revocationKeys } from './records.ts'
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
  store: Pick<Store, 'get' | 'set' | 'compareAndSwap' | 'readStream'>
  /** Longest access-token lifetime, seconds: older revocations are dropped at the next rebuild. */
  maxAccessTokenLifetimeSeconds: number
  /** Matches the writer's; revocations stay relevant for lifetime + leeway. Default 60. */
  clockLeewaySeconds?: number
  /** The writer's `streamMaxLength`: a stream this long may have been trimmed. Default 100,000. */
  streamMaxLength?: number
  /** Ids the filter is sized for at least (it grows with the stream). Default 100,000. */
  expectedItems?: number
  /** Default 0.01 (DESIGN.md: ≤ 1% false positives). */
  falsePositiveRate?: number
  /**
   * Largest request the store accepts, bytes. The snapshot is written with compare-and-swap (which
   * sends the old and the new value) while both fit, else with one SET. Default 1,000,000: Upstash's
   * free-tier request limit is 1 MB.
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
  /** True when the filter was rebuilt from the stream rather than extended. */
  rebuilt: boolean
}

export interface SnapshotBuilder {
  run(): Promise<SnapshotBuildResult>
}

interface State {
  filter: RevocationFilter
  streamId: string
  /** `now()` when the filter was last rebuilt from scratch (0 when adopted from L2). */
  builtAt: number
}

/** Far above any realistic page count: a runaway stream is still read in bounded steps per run. */
const MAX_PAGES_PER_RUN = 10_000

/**
 * Builds the snapshot builder; call `run()` on a timer (see ./snapshot-schedule.ts). Each run:
 *
 * 1. reads the stored snapshot and adopts it if another origin published a newer one;
 * 2. extends the filter with stream entries after its id (XRANGE), or rebuilds it from scratch —
 *    on a cold start from the start of the stream, later (once per token lifetime, or when it holds
 *    more ids than it was sized for) from the entries that can still matter, so expired revocations
 *    stop costing bits; a rebuild happens only while the stream still reaches back that far;
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
  const streamMaxLength = options.streamMaxLength ?? 100_000
  const now = options.now ?? Date.now
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > 86_400) {
    throw new RangeError('maxAccessTokenLifetimeSeconds must be an integer from 1 to 86400')
  }
  if (!Number.isInteger(leeway) || leeway < 0 || leeway > 300) {
    throw new RangeError('clockLeewaySeconds must be an integer from 0 to 300')
  }
  if (!Number.isInteger(streamMaxLength) || streamMaxLength < 1) {
    throw new RangeError('streamMaxLength must be a positive integer')
  }
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1024) {
    throw new RangeError('maxRequestBytes must be an integer of at least 1024')
  }
  // Validates expectedItems and falsePositiveRate once, here.
  createRevocationFilter({ expectedItems, falsePositiveRate })
  const relevantMs = (lifetime + leeway) * 1000

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

  /**
   * A filter of the revocations that can still matter (appended after `windowStart`), or undefined
   * when the stream may have lost some of them to trimming. It has not when its oldest entry is at
   * or before the window, or when it holds fewer entries than it is trimmed to (never trimmed).
   */
  async function rebuild(oldest: string | undefined, windowStart: number) {
    const reachesBack = oldest === undefined || streamIdMs(oldest) <= windowStart
    const from = reachesBack ? `${windowStart}-0` : STREAM_START
    const feed = await readFeed(store, from, MAX_PAGES_PER_RUN, windowStart)
    if (!reachesBack && feed.count >= streamMaxLength) return undefined
    const filter = sized(feed.items.length)
    filter.addMany(feed.items)
    return { filter, streamId: feed.lastId, builtAt: now() }
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

      const oldest = await oldestStreamId(store)
      // Entries appended before the window cannot revoke a token that is still valid.
      const windowStart = Math.max(0, startedAt - relevantMs)
      let rebuilt = false
      if (state === undefined) {
        // Cold start: the whole stream, even if trimmed (there is nothing better to start from).
        const feed = await readFeed(store, STREAM_START, MAX_PAGES_PER_RUN)
        if (feed.count >= streamMaxLength) {
          logger?.log({
            level: 'warn',
            msg: 'revocation stream may be trimmed; cold start is partial',
          })
        }
        const filter = sized(feed.items.length)
        filter.addMany(feed.items)
        state = { filter, streamId: feed.lastId, builtAt: startedAt }
        rebuilt = true
      } else {
        const fresh =
          startedAt - state.builtAt >= relevantMs || overCapacity(state.filter)
            ? await rebuild(oldest, windowStart)
            : undefined
        if (fresh !== undefined) {
          // The rebuild read everything after state.streamId too: the covered id only moves forward.
          state = { ...fresh, streamId: laterStreamId(fresh.streamId, state.streamId) }
          rebuilt = true
        } else {
          if (
            oldest !== undefined &&
            state.streamId !== STREAM_START &&
            compareStreamIds(oldest, state.streamId) > 0
          ) {
            // Entries between our id and the oldest may be gone: streamMaxLength is too small for
            // the revocation rate. Their records still deny on a hit; edges may never see the ids.
            logger?.log({
              level: 'error',
              msg: 'revocation stream trimmed past the snapshot: raise streamMaxLength',
            })
          }
          const feed = await readFeed(store, state.streamId, MAX_PAGES_PER_RUN)
          state.filter.addMany(feed.items)
          state.streamId = feed.lastId
        }
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
