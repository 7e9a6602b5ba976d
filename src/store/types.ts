/**
 * The L2 store contract shared by every adapter (upstash in production, memory in development and
 * unit tests). Every operation that must not race is a single call here, atomic in each adapter: a
 * grant never reads, decides and writes in three round trips.
 */

export interface SetOptions {
  /** Lifetime in seconds (fractions allowed, rounded up to whole milliseconds). */
  ttlSeconds?: number
  /** Write only when the key does not exist (SET NX); `set` then resolves `false` if it did. */
  ifAbsent?: boolean
}

export interface CompareAndSwapOptions {
  /** New lifetime. Without it a replaced value keeps the key's current TTL (KEEPTTL). */
  ttlSeconds?: number
}

/**
 * A key written in the same atomic step as a stream entry (`AppendOptions.record`): no reader ever
 * sees the key without the entry, so an entry that announces a record is never lost while the record
 * stands (the revocation writer's guarantee, src/revocation/records.ts).
 */
export interface AppendRecord {
  key: string
  value: string
  /** Lifetime of a newly written value, seconds (fractions round up to whole milliseconds). */
  ttlSeconds: number
  /**
   * What happens when the key already holds a value: `keep` leaves it and its TTL (SET NX);
   * `greater` replaces it only when `value` is numerically greater (a not-before time only moves
   * forward). A value that is not a number is always replaced.
   */
  onExisting: 'keep' | 'greater'
}

export interface AppendOptions {
  /**
   * Trim the stream to about this many newest entries. Adapters may keep a few more or fewer (Upstash
   * trims `MAXLEN ~` to N±1), so no reader may infer trimming from a count: every entry carries the
   * trim point instead (`StreamEntry.trimmedThrough`).
   */
  maxLength?: number
  /** Written atomically with the entry (see `AppendRecord`). */
  record?: AppendRecord
}

export interface SetAllOptions {
  /** A stream entry appended in the same step, only when the pairs were written (as appendToStream). */
  append?: { stream: string; fields: Record<string, string>; maxLength?: number }
}

export interface StreamEntry {
  /** Redis stream id, `<ms>-<seq>`, strictly increasing within a stream. */
  id: string
  fields: Record<string, string>
  /**
   * The trim point when this entry was appended: every entry with an id up to this one had been
   * trimmed, none after it ('0-0': nothing had been). The newest entry's value is the stream's trim
   * point, so a reader that read everything after its cursor C knows the read was complete when this
   * is at most C. `null` when unknown (an entry appended by something other than a Store adapter).
   */
  trimmedThrough: string | null
}

export interface KeyPage {
  /** Keys that start with the prefix asked for (without the adapter's own key prefix). */
  keys: string[]
  /** Pass it back for the next page; '0' when the scan is complete. */
  cursor: string
}

export interface Store {
  /** The value, or `null` when absent or expired. */
  get(key: string): Promise<string | null>
  /** Write a value; `false` only when `ifAbsent` was asked and the key exists. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>
  /**
   * Writes every pair, without a TTL, only when none of the keys exists (of any type), and then
   * appends `options.append`'s entry: all or nothing in one atomic step (MSETNX on Redis, or one Lua
   * script with the append). `false` when a key existed: nothing was written or appended. A key
   * named twice takes its last value. 1 to 1,000 pairs, none naming the stream. The tenant registry
   * adds a tenant (record, settings, claims, change) with it in one round trip.
   */
  setAllIfAbsent(
    entries: readonly (readonly [key: string, value: string])[],
    options?: SetAllOptions,
  ): Promise<boolean>
  /** Delete keys of any type; resolves how many existed. */
  delete(...keys: string[]): Promise<number>
  /** Atomically read and delete (GETDEL): single-use authorization codes (RFC 6749 §4.1.2). */
  take(key: string): Promise<string | null>
  /**
   * Atomically replace `expected` (null = absent) with `next` (null = delete); `false` when the
   * current value differs. A Lua script on Redis. Refresh rotation and key publication build on it.
   */
  compareAndSwap(
    key: string,
    expected: string | null,
    next: string | null,
    options?: CompareAndSwapOptions,
  ): Promise<boolean>
  /** INCR, setting the TTL when the key has none (fixed-window rate-limit counters); the new count. */
  increment(key: string, ttlSeconds: number): Promise<number>
  /** Set the TTL of an existing key; `false` when the key does not exist. */
  expire(key: string, ttlSeconds: number): Promise<boolean>
  /** Remaining lifetime in milliseconds: `null` when absent, `Infinity` when it never expires. */
  ttlMs(key: string): Promise<number | null>
  /**
   * XADD with an auto-generated id, trimming to `maxLength` and recording the trim point on the new
   * entry, and writing `record` if given: all one atomic step (a Lua script on Redis). Resolves the
   * new id. Resolving means the entry (and record) are in the store: callers may acknowledge.
   */
  appendToStream(
    stream: string,
    fields: Record<string, string>,
    options?: AppendOptions,
  ): Promise<string>
  /** Entries with an id strictly greater than `afterId` ('0' reads from the start), oldest first. */
  readStream(stream: string, afterId: string, count?: number): Promise<StreamEntry[]>
  /** The newest entry (XREVRANGE + - COUNT 1), or null for an empty or absent stream. */
  lastStreamEntry(stream: string): Promise<StreamEntry | null>
  /**
   * One page of the keys that start with `prefix` (SCAN MATCH). A full scan (from cursor '0' until
   * '0' comes back) returns every key that existed throughout it, possibly some twice; keys written
   * or deleted meanwhile may or may not appear. Expired keys never appear.
   */
  scanKeys(prefix: string, cursor: string, count?: number): Promise<KeyPage>
  /** `true` when the backend answers; `false` (never a throw) when it is unreachable. */
  ping(): Promise<boolean>
  /**
   * Puts `member` in the schedule `key`, due at `dueAtMs` (milliseconds since the epoch), replacing
   * any earlier due time (ZADD). Schedules are durable work queues: back-channel logout deliveries.
   */
  schedule(key: string, member: string, dueAtMs: number): Promise<void>
  /**
   * Atomically claims up to `count` members due at `nowMs`, earliest first (ties by member), and
   * moves each one's due time to `nowMs + leaseMs`: a claimant that never finishes (a crash, a lost
   * process) does not lose the member, which becomes due again when the lease ends (a visibility
   * timeout). Concurrent claims never return the same member. One Lua script on Redis.
   */
  claimDue(key: string, nowMs: number, leaseMs: number, count: number): Promise<string[]>
  /** Removes `member` from the schedule; `false` when it was not there (ZREM). */
  unschedule(key: string, member: string): Promise<boolean>
}
