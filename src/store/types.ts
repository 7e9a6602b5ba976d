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

export interface AppendOptions {
  /** Trim the stream to about this many newest entries (XADD MAXLEN ~): at least this many stay. */
  maxLength?: number
}

export interface StreamEntry {
  /** Redis stream id, `<ms>-<seq>`, strictly increasing within a stream. */
  id: string
  fields: Record<string, string>
}

export interface Store {
  /** The value, or `null` when absent or expired. */
  get(key: string): Promise<string | null>
  /** Write a value; `false` only when `ifAbsent` was asked and the key exists. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>
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
  /** XADD with an auto-generated id; resolves the new id. */
  appendToStream(
    stream: string,
    fields: Record<string, string>,
    options?: AppendOptions,
  ): Promise<string>
  /** Entries with an id strictly greater than `afterId` ('0' reads from the start), oldest first. */
  readStream(stream: string, afterId: string, count?: number): Promise<StreamEntry[]>
  /** `true` when the backend answers; `false` (never a throw) when it is unreachable. */
  ping(): Promise<boolean>
}
