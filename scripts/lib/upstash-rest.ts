import { createHash } from 'node:crypto'
import { RespError, type RespValue } from './resp.ts'

/**
 * The Upstash REST wire format, without the HTTP server: what a request body must look like and how a
 * Redis reply becomes `{"result": ...}` / `{"error": "..."}`. Matches what @upstash/redis sends and
 * decodes (node_modules/@upstash/redis, HttpClient.request and `decode`).
 */

export const MAX_PIPELINE_COMMANDS = 1000

/**
 * Commands that would change the shared connection's state (MULTI, SELECT, SUBSCRIBE…), block it
 * (BLPOP, WAIT…) or reach past the data (SHUTDOWN, DEBUG, REPLICAOF…). The bridge multiplexes every
 * HTTP request over a few connections, so one such command would corrupt other requests. Upstash
 * refuses most of these over REST as well.
 */
const DENIED = new Set(
  `AUTH HELLO SELECT SWAPDB MULTI EXEC DISCARD WATCH UNWATCH RESET QUIT CLIENT MONITOR SUBSCRIBE
  PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP
  BZPOPMIN BZPOPMAX BZMPOP WAIT WAITAOF SYNC PSYNC REPLICAOF SLAVEOF SHUTDOWN DEBUG MIGRATE FAILOVER
  CONFIG ACL MODULE SAVE BGSAVE BGREWRITEAOF`.split(/\s+/),
)

export type Command = string[]

export class RestError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** One command: a non-empty JSON array of strings, numbers or booleans (the client sends all three). */
export function parseCommand(raw: unknown): Command {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new RestError(400, 'ERR a command must be a non-empty JSON array')
  }
  const args = raw.map((arg: unknown) => {
    if (typeof arg === 'string') return arg
    if ((typeof arg === 'number' && Number.isFinite(arg)) || typeof arg === 'boolean')
      return String(arg)
    throw new RestError(400, 'ERR command arguments must be strings, numbers or booleans')
  })
  const name = (args[0] ?? '').toUpperCase()
  const blockingRead =
    (name === 'XREAD' || name === 'XREADGROUP') && args.some((a) => a.toUpperCase() === 'BLOCK')
  if (DENIED.has(name) || blockingRead) {
    const shown = /^[A-Za-z]{1,20}$/.test(name) ? name : 'this command'
    throw new RestError(400, `ERR ${shown} is not supported over REST`)
  }
  return args
}

/** `/pipeline` and `/multi-exec`: a non-empty array of commands. */
export function parseCommands(raw: unknown): Command[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new RestError(400, 'ERR a pipeline must be a non-empty JSON array of commands')
  }
  if (raw.length > MAX_PIPELINE_COMMANDS) {
    throw new RestError(400, `ERR a pipeline holds at most ${MAX_PIPELINE_COMMANDS} commands`)
  }
  return raw.map(parseCommand)
}

export type UpstashJson = string | number | null | UpstashJson[]
export type UpstashEntry = { result: UpstashJson } | { error: string }

/**
 * A reply as Upstash returns it. With `Upstash-Encoding: base64` every string is base64 except a
 * top-level "OK" status, which is what the client's `decode` expects (it decodes nested strings always).
 */
export function toJson(value: RespValue, base64: boolean, top = true): UpstashJson {
  if (value === null || typeof value === 'number') return value
  if (value instanceof RespError) return value.message
  if (Array.isArray(value)) return value.map((item) => toJson(item, base64, false))
  if (Buffer.isBuffer(value)) return base64 ? value.toString('base64') : value.toString('utf8')
  if (!base64 || (top && value === 'OK')) return value
  return Buffer.from(value, 'utf8').toString('base64')
}

export function toEntry(value: RespValue, base64: boolean): UpstashEntry {
  return value instanceof RespError ? { error: value.message } : { result: toJson(value, base64) }
}

/** Shebang flags Upstash accepts that redis-server (7.x) rejects: @upstash/ratelimit sends this one. */
const UPSTASH_ONLY_FLAGS = new Set(['allow-key-locking'])

/**
 * Let scripts written for Upstash run on stock redis-server: drop Upstash-only shebang flags from
 * EVAL / SCRIPT LOAD, and point EVALSHA of the original text's SHA1 at the rewritten script, so a
 * client that computed the hash itself (@upstash/ratelimit does) still hits the script cache.
 */
export function createScriptShim(): (command: Command) => Command {
  const rewrittenSha = new Map<string, string>()
  const rewrite = (script: string): string => {
    const match = /^#!lua flags=([^\n]*)/.exec(script)
    if (!match?.[1]) return script
    const flags = match[1].split(',').filter((flag) => !UPSTASH_ONLY_FLAGS.has(flag.trim()))
    const shebang = flags.length > 0 ? `#!lua flags=${flags.join(',')}` : '#!lua'
    const next = shebang + script.slice(match[0].length)
    if (next !== script) rewrittenSha.set(sha1(script), sha1(next))
    return next
  }
  return (command) => {
    const [name = '', first, ...rest] = command
    const upper = name.toUpperCase()
    if (first === undefined) return command
    if (upper === 'EVAL' || upper === 'EVAL_RO') return [name, rewrite(first), ...rest]
    if (upper === 'SCRIPT' && first.toUpperCase() === 'LOAD' && rest[0] !== undefined) {
      return [name, first, rewrite(rest[0]), ...rest.slice(1)]
    }
    if (upper === 'EVALSHA' || upper === 'EVALSHA_RO') {
      return [name, rewrittenSha.get(first.toLowerCase()) ?? first, ...rest]
    }
    return command
  }
}

function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex')
}
