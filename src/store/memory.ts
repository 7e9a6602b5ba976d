import type { Clock } from '../core/types.ts'
import { StoreError } from './errors.ts'
import type { AppendOptions, SetOptions, Store, StreamEntry } from './types.ts'
import {
  assertKey,
  assertPositiveInteger,
  assertStreamFields,
  assertValue,
  compareStreamIds,
  MAX_STREAM_COUNT,
  parseStreamId,
  ttlToMs,
} from './validate.ts'

export interface MemoryStoreOptions {
  /** Milliseconds since the epoch; inject a fake clock in tests. Default `Date.now`. */
  now?: Clock
  /** Most keys held; past it expired keys are swept, then the least recently written go. Default 10 000. */
  maxKeys?: number
  /** Hard cap on entries per stream, whatever `maxLength` asks. Default 10 000. */
  maxStreamLength?: number
}

interface StringEntry {
  kind: 'string'
  value: string
  expiresAt: number
}

interface StreamRecord {
  kind: 'stream'
  entries: { id: string; ms: bigint; seq: bigint; fields: Record<string, string> }[]
  last: { ms: bigint; seq: bigint }
  expiresAt: number
}

type Entry = StringEntry | StreamRecord

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
    if (entry?.kind === 'stream') throw new StoreError('command_failed', operation, WRONGTYPE)
    return entry
  }

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
      if (appendOptions.maxLength !== undefined) {
        assertPositiveInteger('maxLength', appendOptions.maxLength, 2 ** 31)
      }
      const existing = read(stream)
      if (existing?.kind === 'string') {
        throw new StoreError('command_failed', 'appendToStream', WRONGTYPE)
      }
      const record: StreamRecord = existing ?? {
        kind: 'stream',
        entries: [],
        last: { ms: 0n, seq: 0n },
        expiresAt: Infinity,
      }
      // Redis ids: the clock's milliseconds, with a sequence when the clock has not moved on (or went back).
      const t = BigInt(Math.floor(now()))
      const id =
        t > record.last.ms ? { ms: t, seq: 0n } : { ms: record.last.ms, seq: record.last.seq + 1n }
      record.last = id
      record.entries.push({ id: `${id.ms}-${id.seq}`, ...id, fields: { ...fields } })
      const keep = Math.min(appendOptions.maxLength ?? maxStreamLength, maxStreamLength)
      if (record.entries.length > keep) record.entries.splice(0, record.entries.length - keep)
      if (!existing) write(stream, record)
      return `${id.ms}-${id.seq}`
    },

    async readStream(stream, afterId, count = 100) {
      assertKey(stream)
      const after = parseStreamId(afterId)
      assertPositiveInteger('count', count, MAX_STREAM_COUNT)
      const record = read(stream)
      if (!record) return []
      if (record.kind === 'string') {
        throw new StoreError('command_failed', 'readStream', WRONGTYPE)
      }
      const out: StreamEntry[] = []
      for (const entry of record.entries) {
        if (out.length >= count) break
        if (compareStreamIds(entry, after) > 0)
          out.push({ id: entry.id, fields: { ...entry.fields } })
      }
      return out
    },

    async ping() {
      return true
    },
  }
  return store
}

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
