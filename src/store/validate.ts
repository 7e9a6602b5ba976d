/**
 * Argument checks shared by every adapter, so a caller's bug fails the same way (a TypeError or
 * RangeError, not a StoreError) on memory and on Redis, before anything is sent.
 */

import type { AppendOptions, SetAllOptions } from './types.ts'

const MAX_KEY_LENGTH = 1024
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const STREAM_ID = /^(\d{1,20})(?:-(\d{1,20}))?$/
export const MAX_STREAM_COUNT = 10_000

/** Redis stores bytes: a lone surrogate would come back as U+FFFD from Redis but intact from memory. */
function assertWellFormed(what: string, value: string): void {
  if (LONE_SURROGATE.test(value)) throw new TypeError(`${what} is not well-formed Unicode`)
}

export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new TypeError(`store key must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
  }
  assertWellFormed('store key', key)
}

export function assertValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new TypeError('store value must be a string')
  assertWellFormed('store value', value)
}

/** At most this many pairs in one `setAllIfAbsent` (one command; the REST body stays small). */
export const MAX_SET_ALL = 1000

/**
 * `setAllIfAbsent`'s arguments: 1 to MAX_SET_ALL [key, value] pairs, and an append whose stream is
 * none of their keys (the script would write a string where it then appends).
 */
export function assertSetAll(
  entries: unknown,
  options: SetAllOptions,
): asserts entries is readonly (readonly [string, string])[] {
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_SET_ALL) {
    throw new TypeError(`setAllIfAbsent takes 1 to ${MAX_SET_ALL} [key, value] pairs`)
  }
  for (const pair of entries as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new TypeError(`setAllIfAbsent takes 1 to ${MAX_SET_ALL} [key, value] pairs`)
    }
    assertKey(pair[0])
    assertValue(pair[1])
  }
  const { append } = options
  if (append === undefined) return
  if (typeof append !== 'object' || append === null) throw new TypeError('append must be an object')
  assertKey(append.stream)
  assertStreamFields(append.fields)
  checkAppendOptions(append.maxLength === undefined ? {} : { maxLength: append.maxLength })
  if ((entries as [string, string][]).some(([key]) => key === append.stream))
    throw new TypeError('setAllIfAbsent cannot write the stream it appends to')
}

/** Seconds to whole milliseconds, rounded up so a TTL is never shorter than asked. */
export function ttlToMs(ttlSeconds: unknown): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError('ttlSeconds must be a positive finite number')
  }
  const ms = Math.ceil(ttlSeconds * 1000)
  if (ms > Number.MAX_SAFE_INTEGER) throw new RangeError('ttlSeconds is too large')
  return ms
}

export function assertPositiveInteger(name: string, n: unknown, max: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}`)
  }
}

/**
 * The field every adapter adds to each entry it appends: the stream's trim point at that moment
 * (`StreamEntry.trimmedThrough`). Reserved: callers cannot pass it.
 */
export const TRIMMED_FIELD = '_trimmed'

export function assertStreamFields(fields: unknown): asserts fields is Record<string, string> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new TypeError('stream fields must be an object of strings')
  }
  const entries = Object.entries(fields)
  if (entries.length === 0) throw new TypeError('stream fields must not be empty')
  for (const [name, value] of entries) {
    assertValue(value)
    assertWellFormed('stream field name', name)
    if (name === TRIMMED_FIELD) throw new TypeError(`stream field ${TRIMMED_FIELD} is reserved`)
  }
}

/** Checks `AppendOptions` before anything is sent; resolves the record's TTL in milliseconds. */
export function checkAppendOptions(options: AppendOptions): { recordTtlMs?: number } {
  if (options.maxLength !== undefined)
    assertPositiveInteger('maxLength', options.maxLength, 2 ** 31)
  const { record } = options
  if (record === undefined) return {}
  if (typeof record !== 'object' || record === null) throw new TypeError('record must be an object')
  assertKey(record.key)
  assertValue(record.value)
  if (record.onExisting !== 'keep' && record.onExisting !== 'greater') {
    throw new TypeError('record.onExisting must be "keep" or "greater"')
  }
  if (record.onExisting === 'greater' && !Number.isFinite(Number(record.value))) {
    throw new TypeError('record.value must be a number when onExisting is "greater"')
  }
  return { recordTtlMs: ttlToMs(record.ttlSeconds) }
}

/**
 * Whether an append with `onExisting: 'greater'` replaces `current`: when it is absent, not a
 * number, or numerically smaller. The Lua script on Redis applies the same rule.
 */
export function greaterReplaces(current: string | null, next: string): boolean {
  if (current === null) return true
  const old = Number(current)
  return !Number.isFinite(old) || old < Number(next)
}

/** `scanKeys` arguments: a prefix (may be empty: every key), a cursor of digits, a page size. */
export function assertScan(prefix: unknown, cursor: unknown, count: unknown): void {
  if (prefix !== '') assertKey(prefix)
  if (typeof cursor !== 'string' || !/^\d{1,20}$/.test(cursor)) {
    throw new TypeError('scan cursor must be a string of digits')
  }
  assertPositiveInteger('count', count, MAX_STREAM_COUNT)
}

/** A parsed stream id; a missing sequence is 0, as XRANGE reads an incomplete start id. */
export interface StreamId {
  ms: bigint
  seq: bigint
}

const U64_MAX = (1n << 64n) - 1n

export function parseStreamId(id: unknown): StreamId {
  const match = typeof id === 'string' ? STREAM_ID.exec(id) : null
  const ms = match?.[1] === undefined ? -1n : BigInt(match[1])
  const seq = match?.[2] === undefined ? 0n : BigInt(match[2])
  if (!match || ms > U64_MAX || seq > U64_MAX) {
    throw new TypeError('stream id must look like <ms> or <ms>-<seq>')
  }
  return { ms, seq }
}

export const formatStreamId = (id: StreamId): string => `${id.ms}-${id.seq}`

/** The id just before `id`: what is trimmed when everything older than `id` may be gone. */
export function previousStreamId(id: StreamId): StreamId {
  if (id.seq > 0n) return { ms: id.ms, seq: id.seq - 1n }
  return id.ms > 0n ? { ms: id.ms - 1n, seq: U64_MAX } : { ms: 0n, seq: 0n }
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1
  return a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1
}

/** Milliseconds since the epoch as a schedule score: a whole number Redis holds exactly (≤ 2^53). */
export function assertTimeMs(name: string, ms: unknown): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`${name} must be a whole number of milliseconds from 0 to 2^53`)
  }
}

/** A schedule member: like a key, 1 to 1024 well-formed characters. */
export function assertMember(member: unknown): asserts member is string {
  if (typeof member !== 'string' || member.length === 0 || member.length > MAX_KEY_LENGTH) {
    throw new TypeError(`schedule member must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
  }
  assertWellFormed('schedule member', member)
}
