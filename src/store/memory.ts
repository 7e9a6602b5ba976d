import type { Clock } from '../core/types.ts'
import { StoreError } from './errors.ts'
import type { AppendOptions, SetAllOptions, SetOptions, Store, StreamEntry } from './types.ts'
import {
  assertKey,
  assertSetAll,
  assertMember,
  assertPositiveInteger,
  assertScan,
  assertStreamFields,
  assertValue,
  checkAppendOptions,
  compareStreamIds,
  formatStreamId,
  greaterReplaces,
  MAX_STREAM_COUNT,
  parseStreamId,
  assertTimeMs,
  ttlToMs,
} from './validate.ts'

export interface MemoryStoreOptions {
  /** Milliseconds since the epoch; inject a fake clock in tests. Default `Date.now`. */
  now?: Clock
  /** Most keys held; past it expired keys are swept, then the least recently written go. Default 10 000. */
  maxKeys?: number
  /** Hard cap on entries per stream, whatever `maxLength` asks. Default 10 000. */
  maxStreamLength?: number
  /**
   * How many of `length` entries a trim to `maxLength` keeps (clamped to 1..length). Default: exactly
   * `maxLength`. Tests pass other rules to stand in for other backends: Upstash's `MAXLEN ~ N` keeps
   * N−1 to N+1, stock Redis keeps whole 100-entry nodes.
   */
  trimKeeps?: (maxLength: number, length: number) => number
}

interface StringEntry {
  kind: 'string'
  value: string
  expiresAt: number
}

interface StoredEntry {
  id: string
  ms: bigint
  seq: bigint
  fields: Record<string, string>
  trimmedThrough: string
}

interface StreamValue {
  kind: 'stream'
  entries: StoredEntry[]
  last: { ms: bigint; seq: bigint }
  /** Id of the newest entry ever trimmed ('0-0': none). */
  trimmedThrough: string
  expiresAt: number
}

interface ScheduleValue {
  kind: 'schedule'
  /** member → due time (ms). */
  due: Map<string, number>
  expiresAt: number
}

type Entry = StringEntry | StreamValue | ScheduleValue

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'

/**
 * An in-process Store with Redis semantics, for development and unit tests: TTLs against an injected
 * clock (expired keys vanish lazily, on access), bounded size, and the same atomics as the Redis
 * adapter — trivially atomic here, because each method runs to completion without awaiting.
 * Not shared between processes or Worker isolates: never use it for production state.
 *
 * @example
 * let now = 0
 * const store = createMemoryStore({ now: () => now })
 * await store.set('code:abc', 'grant', { ttlSeconds: 60 })
 * now += 60_000
 * await store.get('code:abc') // null
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const now = options.now ?? Date.now
  const maxKeys = options.maxKeys ?? 10_000
  const maxStreamLength = options.maxStreamLength ?? 10_000
  const trimKeeps = options.trimKeeps ?? ((max: number) => max)
  assertPositiveInteger('maxKeys', maxKeys, 2 ** 31)
  assertPositiveInteger('maxStreamLength', maxStreamLength, 2 ** 31)
  const data = new Map<string, Entry>()

  function read(key: string): Entry | undefined {
    const entry = data.get(key)
    if (entry && entry.expiresAt <= now()) {
      data.delete(key)
      return undefined
    }
    return entry
  }

  function readString(operation: string, key: string): StringEntry | undefined {
    const entry = read(key)
    if (entry && entry.kind !== 'string')
      throw new StoreError('command_failed', operation, WRONGTYPE)
    return entry
  }

  function readStreamValue(operation: string, key: string): StreamValue | undefined {
    const entry = read(key)
    if (entry && entry.kind !== 'stream')
      throw new StoreError('command_failed', operation, WRONGTYPE)
    return entry
  }

  function readSchedule(operation: string, key: string): ScheduleValue | undefined {
    const entry = read(key)
    if (entry && entry.kind !== 'schedule')
      throw new StoreError('command_failed', operation, WRONGTYPE)
    return entry
  }

  const stringEntry = (value: string, ttlMs: number): StringEntry => ({
    kind: 'string',
    value,
    expiresAt: now() + ttlMs,
  })

  /** Re-inserting moves the key to the end of the Map, so eviction takes the least recently written. */
  function write(key: string, entry: Entry): void {
    data.delete(key)
    if (data.size >= maxKeys) evict()
    data.set(key, entry)
  }

  function evict(): void {
    const t = now()
    for (const [key, entry] of data) if (entry.expiresAt <= t) data.delete(key)
    for (const key of data.keys()) {
      if (data.size < maxKeys) break
      data.delete(key)
    }
  }

  const store: Store = {
    async get(key) {
      assertKey(key)
      return readString('get', key)?.value ?? null
    },

    async set(key, value, setOptions: SetOptions = {}) {
      assertKey(key)
      assertValue(value)
      const ttl = setOptions.ttlSeconds === undefined ? undefined : ttlToMs(setOptions.ttlSeconds)
      if (setOptions.ifAbsent && read(key)) return false
      write(key, { kind: 'string', value, expiresAt: ttl === undefined ? Infinity : now() + ttl })
      return true
    },

    async setAllIfAbsent(entries, setAllOptions: SetAllOptions = {}) {
      assertSetAll(entries, setAllOptions)
      const { append } = setAllOptions
      // Checked whole before the first write: all or nothing, as MSETNX (a script with the append).
      if (append) readStreamValue('setAllIfAbsent', append.stream)
      if (entries.some(([key]) => read(key) !== undefined)) return false
      for (const [key, value] of entries) write(key, { kind: 'string', value, expiresAt: Infinity })
      // appendToStream runs to its end synchronously here: nothing else runs between the two.
      if (append)
        await store.appendToStream(
          append.stream,
          append.fields,
          append.maxLength === undefined ? {} : { maxLength: append.maxLength },
        )
      return true
    },

    async delete(...keys) {
      keys.forEach((key) => assertKey(key))
      let count = 0
      for (const key of new Set(keys)) {
        if (read(key)) count += 1
        data.delete(key)
      }
      return count
    },

    async take(key) {
      assertKey(key)
      const entry = readString('take', key)
      data.delete(key)
      return entry?.value ?? null
    },

    async compareAndSwap(key, expected, next, casOptions = {}) {
      assertKey(key)
      if (expected !== null) assertValue(expected)
      if (next !== null) assertValue(next)
      const ttl = casOptions.ttlSeconds === undefined ? undefined : ttlToMs(casOptions.ttlSeconds)
      const current = readString('compareAndSwap', key)
      if ((current?.value ?? null) !== expected) return false
      if (next === null) {
        data.delete(key)
      } else {
        const expiresAt = ttl === undefined ? (current?.expiresAt ?? Infinity) : now() + ttl
        write(key, { kind: 'string', value: next, expiresAt })
      }
      return true
    },

    async increment(key, ttlSeconds) {
      assertKey(key)
      const ttl = ttlToMs(ttlSeconds)
      const current = readString('increment', key)
      const count = current === undefined ? 1 : parseCounter(current.value) + 1
      if (!Number.isSafeInteger(count)) {
        throw new StoreError('command_failed', 'increment', 'ERR increment would overflow')
      }
      const expiresAt =
        current === undefined || current.expiresAt === Infinity ? now() + ttl : current.expiresAt
      write(key, { kind: 'string', value: String(count), expiresAt })
      return count
    },

    async expire(key, ttlSeconds) {
      assertKey(key)
      const ttl = ttlToMs(ttlSeconds)
      const entry = read(key)
      if (!entry) return false
      entry.expiresAt = now() + ttl
      return true
    },

    async ttlMs(key) {
      assertKey(key)
      const entry = read(key)
      if (!entry) return null
      return entry.expiresAt === Infinity ? Infinity : entry.expiresAt - now()
    },

    async appendToStream(stream, fields, appendOptions: AppendOptions = {}) {
      assertKey(stream)
      assertStreamFields(fields)
      const { recordTtlMs } = checkAppendOptions(appendOptions)
      const existing = read(stream)
      if (existing && existing.kind !== 'stream') {
        throw new StoreError('command_failed', 'appendToStream', WRONGTYPE)
      }
      const { record } = appendOptions
      const current = record && readString('appendToStream', record.key)
      // Everything is checked before anything is written: the step is all or nothing.
      const value: StreamValue = existing ?? {
        kind: 'stream',
        entries: [],
        last: { ms: 0n, seq: 0n },
        trimmedThrough: '0-0',
        expiresAt: Infinity,
      }
      if (record && recordTtlMs !== undefined) {
        const replace =
          current === undefined ||
          (record.onExisting === 'greater' && greaterReplaces(current.value, record.value))
        if (replace) write(record.key, stringEntry(record.value, recordTtlMs))
      }
      // Redis ids: the clock's milliseconds, with a sequence when the clock has not moved on (or went back).
      const t = BigInt(Math.floor(now()))
      const id =
        t > value.last.ms ? { ms: t, seq: 0n } : { ms: value.last.ms, seq: value.last.seq + 1n }
      value.last = id
      const length = value.entries.length + 1
      const limit = Math.min(appendOptions.maxLength ?? maxStreamLength, maxStreamLength)
      if (length > limit) {
        const keep = Math.max(1, Math.min(length, Math.floor(trimKeeps(limit, length))))
        const gone = value.entries.splice(0, length - keep)
        if (gone.length > 0) value.trimmedThrough = gone.at(-1)!.id
      }
      const entry = { id: formatStreamId(id), ...id, fields: { ...fields } }
      value.entries.push({ ...entry, trimmedThrough: value.trimmedThrough })
      write(stream, value) // an append is a write: the stream becomes the most recently written key
      return entry.id
    },

    async readStream(stream, afterId, count = 100) {
      assertKey(stream)
      const after = parseStreamId(afterId)
      assertPositiveInteger('count', count, MAX_STREAM_COUNT)
      const entries = readStreamValue('readStream', stream)?.entries ?? []
      const out: StreamEntry[] = []
      for (const entry of entries) {
        if (out.length >= count) break
        if (compareStreamIds(entry, after) > 0) out.push(copyEntry(entry))
      }
      return out
    },

    async lastStreamEntry(stream) {
      assertKey(stream)
      const last = readStreamValue('lastStreamEntry', stream)?.entries.at(-1)
      return last === undefined ? null : copyEntry(last)
    },

    async scanKeys(prefix, cursor, count = 1000) {
      assertScan(prefix, cursor, count)
      const t = now()
      const keys: string[] = []
      // One page: a snapshot of the live keys meets SCAN's guarantee trivially.
      for (const [key, entry] of data) {
        if (entry.expiresAt > t && key.startsWith(prefix)) keys.push(key)
      }
      return { keys, cursor: '0' }
    },

    async ping() {
      return true
    },

    async schedule(key, member, dueAtMs) {
      assertKey(key)
      assertMember(member)
      assertTimeMs('dueAtMs', dueAtMs)
      const value = readSchedule('schedule', key)
      if (value) value.due.set(member, dueAtMs)
      else write(key, { kind: 'schedule', due: new Map([[member, dueAtMs]]), expiresAt: Infinity })
    },

    async claimDue(key, nowMs, leaseMs, count) {
      assertKey(key)
      assertTimeMs('nowMs', nowMs)
      assertPositiveInteger('leaseMs', leaseMs, 2 ** 31)
      assertPositiveInteger('count', count, MAX_STREAM_COUNT)
      const value = readSchedule('claimDue', key)
      if (!value) return []
      // Redis' sorted-set order: by score, then by member (byte order; code units agree for ASCII).
      const due = [...value.due]
        .filter(([, at]) => at <= nowMs)
        .sort(([ma, a], [mb, b]) => a - b || (ma < mb ? -1 : ma > mb ? 1 : 0))
        .slice(0, count)
        .map(([member]) => member)
      for (const member of due) value.due.set(member, nowMs + leaseMs)
      return due
    },

    async unschedule(key, member) {
      assertKey(key)
      assertMember(member)
      const value = readSchedule('unschedule', key)
      if (!value?.due.delete(member)) return false
      if (value.due.size === 0) data.delete(key)
      return true
    },
  }
  return store
}

const copyEntry = (entry: StoredEntry): StreamEntry => ({
  id: entry.id,
  fields: { ...entry.fields },
  trimmedThrough: entry.trimmedThrough,
})

/** INCR accepts only a canonical signed integer, as Redis's string2ll does. */
function parseCounter(value: string): number {
  if (!/^(0|-?[1-9]\d{0,18})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new StoreError(
      'command_failed',
      'increment',
      'ERR value is not an integer or out of range',
    )
  }
  return Number(value)
}
