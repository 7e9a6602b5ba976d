import { StoreError } from './errors.ts'
import type { AppendOptions, SetAllOptions, SetOptions, Store, StreamEntry } from './types.ts'
import {
  createUpstashTransport,
  type UpstashHttpOptions,
  type UpstashValue,
} from './upstash-http.ts'
import {
  assertKey,
  assertSetAll,
  assertMember,
  assertPositiveInteger,
  assertScan,
  assertStreamFields,
  assertValue,
  checkAppendOptions,
  MAX_STREAM_COUNT,
  parseStreamId,
  TRIMMED_FIELD,
  assertTimeMs,
  ttlToMs,
} from './validate.ts'

export interface UpstashStoreOptions extends UpstashHttpOptions {
  /** Prepended to every key and stream name, so one database can hold several deployments. Default `gh:`. */
  keyPrefix?: string
}

// Every script names each key it touches in KEYS and carries Upstash's `allow-key-locking` flag, so
// it locks only those keys instead of the whole database (Upstash, "Key-Based Locking"). Stock Redis
// rejects the flag; the development bridge strips it and enforces what Upstash does with it.
const KEY_LOCKING = '#!lua flags=allow-key-locking\n'

// ARGV: expected present?, expected, next present?, next, ttl ms or ''. GET of an absent key is false.
const COMPARE_AND_SWAP = `${KEY_LOCKING}local current = redis.call('GET', KEYS[1])
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
const INCREMENT = `${KEY_LOCKING}local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`

// The two halves of an append, shared by APPEND and SET_ALL_THEN_APPEND. `trim_point` only reads
// (a WRONGTYPE there comes before any write); `add_entry` trims to `maxLength` (a number or nil) and
// appends the entry stamped with the trim point, its field/value pairs from ARGV[fields_from] on.
const STREAM_FUNCTIONS = `local function trim_point(stream)
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  if not newest then return '0-0' end
  local fields = newest[2]
  for i = 1, #fields, 2 do
    if fields[i] == '${TRIMMED_FIELD}' then return fields[i + 1] end
  end
  -- Appended by something else: treat everything before the oldest entry as trimmed.
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1][1]
  local ms, seq = string.match(oldest, '^(%d+)-(%d+)$')
  if seq ~= '0' then return ms .. '-' .. string.format('%.0f', tonumber(seq) - 1) end
  if ms ~= '0' then return string.format('%.0f', tonumber(ms) - 1) .. '-18446744073709551615' end
  return '0-0'
end
local function add_entry(stream, trimmed, maxLength, fields_from)
  if maxLength then
    local length = redis.call('XLEN', stream)
    -- At most 1000 per append: lowering maxLength shrinks a long stream over several appends.
    local excess = math.min(length + 1 - maxLength, 1000)
    if excess > 0 then
      local gone = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)
      trimmed = gone[#gone][1]
      redis.call('XTRIM', stream, 'MAXLEN', length - #gone)
    end
  end
  return redis.call('XADD', stream, '*', '${TRIMMED_FIELD}', trimmed, unpack(ARGV, fields_from))
end
`

// KEYS: stream [, record]. ARGV: maxLength or '', record mode ('' | 'keep' | 'greater'), record
// value, record TTL ms, then field/value pairs. Reads and checks everything before the first write
// (a Lua error does not roll back), then writes the record, trims, and appends the entry stamped with
// the trim point: all or nothing, so no reader ever sees a record its entry does not announce.
const APPEND = `${KEY_LOCKING}${STREAM_FUNCTIONS}local stream = KEYS[1]
local mode, value = ARGV[2], ARGV[3]
local current = false
if mode ~= '' then current = redis.call('GET', KEYS[2]) end
local trimmed = trim_point(stream)
if mode == 'keep' then
  if not current then redis.call('SET', KEYS[2], value, 'PX', ARGV[4]) end
elseif mode == 'greater' then
  local old = current and tonumber(current)
  if not old or old ~= old or old == math.huge or old == -math.huge or old < tonumber(value) then
    redis.call('SET', KEYS[2], value, 'PX', ARGV[4])
  end
end
return add_entry(stream, trimmed, tonumber(ARGV[1]), 5)`

// KEYS: stream, then the keys to write. ARGV: maxLength or '', one value per key to write, then the
// entry's field/value pairs. 0 when any of the keys exists (nothing written); else writes them all
// (no TTL) and appends the entry as APPEND does. Every check comes before the first write.
const SET_ALL_THEN_APPEND = `${KEY_LOCKING}${STREAM_FUNCTIONS}local stream = KEYS[1]
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
local trimmed = trim_point(stream)
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i]) end
return add_entry(stream, trimmed, tonumber(ARGV[1]), #KEYS + 1)`

// Stream reads run as scripts, not XRANGE: Upstash serves EVAL (which may write) on the primary and
// plain reads on read replicas, which can lag. A revocation feed read from a lagging replica would
// make "a sync that starts at s sees every append before s" false by the replica's lag.
const READ_STREAM = `${KEY_LOCKING}return redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])`
const LAST_ENTRY = `${KEY_LOCKING}return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)`

// KEYS: the schedule. ARGV: now ms, now + lease ms, count. Due members, earliest first, each moved to
// the end of its lease in the same step, so two claimants never get the same member.
const CLAIM_DUE = `${KEY_LOCKING}local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member) end
return due`

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

    async setAllIfAbsent(entries, setAllOptions: SetAllOptions = {}) {
      assertSetAll(entries, setAllOptions)
      const { append } = setAllOptions
      if (append === undefined) {
        const args = ['MSETNX', ...entries.flatMap(([key, value]) => [k(key), value])]
        const written = integer('setAllIfAbsent', await run('setAllIfAbsent', args))
        if (written !== 0 && written !== 1) throw unexpected('setAllIfAbsent')
        return written === 1
      }
      const keys = [k(append.stream), ...entries.map(([key]) => k(key))]
      const args = [
        'EVAL',
        SET_ALL_THEN_APPEND,
        keys.length,
        ...keys,
        append.maxLength ?? '',
        ...entries.map(([, value]) => value),
        ...Object.entries(append.fields).flat(),
      ]
      const id = await run('setAllIfAbsent', args)
      if (id === 0) return false
      if (typeof id !== 'string') throw unexpected('setAllIfAbsent')
      return true
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
      const keys = [k(stream)]
      assertStreamFields(fields)
      const { recordTtlMs } = checkAppendOptions(appendOptions)
      const { record, maxLength } = appendOptions
      if (record) keys.push(k(record.key))
      const args = [
        'EVAL',
        APPEND,
        keys.length,
        ...keys,
        maxLength ?? '',
        record?.onExisting ?? '',
        record?.value ?? '',
        recordTtlMs ?? '',
        ...Object.entries(fields).flat(),
      ]
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
      const args = ['EVAL', READ_STREAM, 1, prefixed, `(${after.ms}-${after.seq}`, count]
      return streamEntries('readStream', await run('readStream', args))
    },

    async lastStreamEntry(stream) {
      const args = ['EVAL', LAST_ENTRY, 1, k(stream)]
      const [last] = streamEntries('lastStreamEntry', await run('lastStreamEntry', args))
      return last ?? null
    },

    async scanKeys(prefix, cursor, count = 1000) {
      assertScan(prefix, cursor, count)
      const pattern = globEscape(keyPrefix + prefix) + '*'
      const reply = await run('scanKeys', ['SCAN', cursor, 'MATCH', pattern, 'COUNT', count])
      const [next, keys] = Array.isArray(reply) ? reply : []
      if (typeof next !== 'string' || !/^\d+$/.test(next) || !Array.isArray(keys)) {
        throw unexpected('scanKeys')
      }
      return {
        cursor: next,
        keys: keys.map((key) => {
          if (typeof key !== 'string' || !key.startsWith(keyPrefix)) throw unexpected('scanKeys')
          return key.slice(keyPrefix.length)
        }),
      }
    },

    async ping() {
      try {
        return (await run('ping', ['PING'])) === 'PONG'
      } catch (e) {
        if (e instanceof StoreError) return false
        throw e
      }
    },

    async schedule(key, member, dueAtMs) {
      const prefixed = k(key)
      assertMember(member)
      assertTimeMs('dueAtMs', dueAtMs)
      integer('schedule', await run('schedule', ['ZADD', prefixed, dueAtMs, member]))
    },

    async claimDue(key, nowMs, leaseMs, count) {
      const prefixed = k(key)
      assertTimeMs('nowMs', nowMs)
      assertPositiveInteger('leaseMs', leaseMs, 2 ** 31)
      assertPositiveInteger('count', count, MAX_STREAM_COUNT)
      const args = ['EVAL', CLAIM_DUE, 1, prefixed, nowMs, nowMs + leaseMs, count]
      const members = await run('claimDue', args)
      if (!Array.isArray(members) || members.some((m) => typeof m !== 'string'))
        throw unexpected('claimDue')
      return members as string[]
    },

    async unschedule(key, member) {
      const prefixed = k(key)
      assertMember(member)
      return integer('unschedule', await run('unschedule', ['ZREM', prefixed, member])) === 1
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

function streamEntries(operation: string, v: UpstashValue): StreamEntry[] {
  if (!Array.isArray(v)) throw unexpected(operation)
  return v.map((item) => {
    const [id, flat] = Array.isArray(item) ? item : []
    if (typeof id !== 'string' || !Array.isArray(flat) || flat.length % 2 !== 0) {
      throw unexpected(operation)
    }
    const fields: Record<string, string> = {}
    let trimmedThrough: string | null = null
    for (let i = 0; i < flat.length; i += 2) {
      const [name, value] = [flat[i], flat[i + 1]]
      if (typeof name !== 'string' || typeof value !== 'string') throw unexpected(operation)
      if (name === TRIMMED_FIELD) {
        trimmedThrough = value
        continue
      }
      // defineProperty, not assignment: a field named __proto__ must stay a plain field.
      Object.defineProperty(fields, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return { id, fields, trimmedThrough }
  })
}

/** SCAN MATCH treats `* ? [ ] \\` as glob syntax: a prefix is matched literally. */
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&')
