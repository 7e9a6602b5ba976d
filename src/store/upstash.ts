import { StoreError } from './errors.ts'
import type { AppendOptions, SetOptions, Store, StreamEntry } from './types.ts'
import {
  createUpstashTransport,
  type UpstashHttpOptions,
  type UpstashValue,
} from './upstash-http.ts'
import {
  assertKey,
  assertPositiveInteger,
  assertStreamFields,
  assertValue,
  MAX_STREAM_COUNT,
  parseStreamId,
  ttlToMs,
} from './validate.ts'

export interface UpstashStoreOptions extends UpstashHttpOptions {
  /** Prepended to every key and stream name, so one database can hold several deployments. Default `gh:`. */
  keyPrefix?: string
}

// ARGV: expected present?, expected, next present?, next, ttl ms or ''. GET of an absent key is false.
const COMPARE_AND_SWAP = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] == '' then
  redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
return 1`

// A counter that somehow has no TTL (written by set() without one) gets it here too, so a window
// can never become permanent.
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`

const MAX_ID = (1n << 64n) - 1n

/**
 * The production Store: Upstash Redis over its REST API, from Workers and Node alike (fetch only).
 * Each method is one Redis command or one Lua script, so every atomic in the `Store` contract is
 * atomic here across all edges and origins. Sent as EVAL rather than EVALSHA: the scripts are a few
 * hundred bytes and EVAL cannot fail with NOSCRIPT after a failover.
 *
 * @example
 * const store = createUpstashStore({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN })
 * if ((await store.take(`code:${hash}`)) === null) throw new Error('code already used')
 */
export function createUpstashStore(options: UpstashStoreOptions): Store {
  const { keyPrefix = 'gh:', ...http } = options
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 64) {
    throw new TypeError('keyPrefix must be a string of at most 64 characters')
  }
  const transport = createUpstashTransport(http)
  const k = (key: string): string => {
    assertKey(key)
    return keyPrefix + key
  }
  const run = (operation: string, args: (string | number)[]) => transport.command(operation, args)

  return {
    async get(key) {
      return nullableString('get', await run('get', ['GET', k(key)]))
    },

    async set(key, value, setOptions: SetOptions = {}) {
      const args: (string | number)[] = ['SET', k(key), value]
      assertValue(value)
      if (setOptions.ttlSeconds !== undefined) args.push('PX', ttlToMs(setOptions.ttlSeconds))
      if (setOptions.ifAbsent) args.push('NX')
      const result = await run('set', args)
      if (result !== 'OK' && result !== null) throw unexpected('set')
      return result === 'OK'
    },

    async delete(...keys) {
      const prefixed = keys.map(k)
      if (prefixed.length === 0) return 0
      return integer('delete', await run('delete', ['DEL', ...prefixed]))
    },

    async take(key) {
      return nullableString('take', await run('take', ['GETDEL', k(key)]))
    },

    async compareAndSwap(key, expected, next, casOptions = {}) {
      const prefixed = k(key)
      if (expected !== null) assertValue(expected)
      if (next !== null) assertValue(next)
      const ttl = casOptions.ttlSeconds === undefined ? '' : ttlToMs(casOptions.ttlSeconds)
      const flags = [
        expected === null ? '0' : '1',
        expected ?? '',
        next === null ? '0' : '1',
        next ?? '',
      ]
      const args = ['EVAL', COMPARE_AND_SWAP, 1, prefixed, ...flags, ttl]
      return integer('compareAndSwap', await run('compareAndSwap', args)) === 1
    },

    async increment(key, ttlSeconds) {
      const args = ['EVAL', INCREMENT, 1, k(key), ttlToMs(ttlSeconds)]
      return integer('increment', await run('increment', args))
    },

    async expire(key, ttlSeconds) {
      const args = ['PEXPIRE', k(key), ttlToMs(ttlSeconds)]
      return integer('expire', await run('expire', args)) === 1
    },

    async ttlMs(key) {
      const ms = integer('ttlMs', await run('ttlMs', ['PTTL', k(key)]))
      return ms === -2 ? null : ms === -1 ? Infinity : ms
    },

    async appendToStream(stream, fields, appendOptions: AppendOptions = {}) {
      const args: (string | number)[] = ['XADD', k(stream)]
      assertStreamFields(fields)
      if (appendOptions.maxLength !== undefined) {
        assertPositiveInteger('maxLength', appendOptions.maxLength, 2 ** 31)
        // `~` lets Redis trim whole radix-tree nodes only: cheap, and never below maxLength.
        args.push('MAXLEN', '~', appendOptions.maxLength)
      }
      args.push('*', ...Object.entries(fields).flat())
      const id = await run('appendToStream', args)
      if (typeof id !== 'string') throw unexpected('appendToStream')
      return id
    },

    async readStream(stream, afterId, count = 100) {
      const prefixed = k(stream)
      const after = parseStreamId(afterId)
      assertPositiveInteger('count', count, MAX_STREAM_COUNT)
      if (after.ms === MAX_ID && after.seq === MAX_ID) return []
      // `(` makes the start exclusive (Redis 6.2+): the caller passes the last id it has seen.
      const args = ['XRANGE', prefixed, `(${after.ms}-${after.seq}`, '+', 'COUNT', count]
      return streamEntries(await run('readStream', args))
    },

    async ping() {
      try {
        return (await run('ping', ['PING'])) === 'PONG'
      } catch (e) {
        if (e instanceof StoreError) return false
        throw e
      }
    },
  }
}

function unexpected(operation: string): StoreError {
  return new StoreError('bad_response', operation, 'unexpected result type')
}

function nullableString(operation: string, v: UpstashValue): string | null {
  if (v !== null && typeof v !== 'string') throw unexpected(operation)
  return v
}

function integer(operation: string, v: UpstashValue): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw unexpected(operation)
  return v
}

function streamEntries(v: UpstashValue): StreamEntry[] {
  if (!Array.isArray(v)) throw unexpected('readStream')
  return v.map((item) => {
    const [id, flat] = Array.isArray(item) ? item : []
    if (typeof id !== 'string' || !Array.isArray(flat) || flat.length % 2 !== 0) {
      throw unexpected('readStream')
    }
    const fields: Record<string, string> = {}
    for (let i = 0; i < flat.length; i += 2) {
      const [name, value] = [flat[i], flat[i + 1]]
      if (typeof name !== 'string' || typeof value !== 'string') throw unexpected('readStream')
      // defineProperty, not assignment: a field named __proto__ must stay a plain field.
      Object.defineProperty(fields, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return { id, fields }
  })
}
