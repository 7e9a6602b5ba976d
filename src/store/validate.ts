/**
 * Argument checks shared by every adapter, so a caller's bug fails the same way (a TypeError or
 * RangeError, not a StoreError) on memory and on Redis, before anything is sent.
 */

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

export function assertStreamFields(fields: unknown): asserts fields is Record<string, string> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new TypeError('stream fields must be an object of strings')
  }
  const entries = Object.entries(fields)
  if (entries.length === 0) throw new TypeError('stream fields must not be empty')
  for (const [name, value] of entries) {
    assertValue(value)
    assertWellFormed('stream field name', name)
  }
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

export function compareStreamIds(a: StreamId, b: StreamId): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1
  return a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1
}
