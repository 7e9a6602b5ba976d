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

/**
 * `/pipeline` and `/multi-exec`: a non-empty array of commands. A body that is not one is refused
 * whole; a single command that is refused (denied, malformed) comes back as its `RestError` in
 * place, as Upstash answers it in the pipeline's results while the other commands run.
 */
export function parseCommands(raw: unknown): (Command | RestError)[] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every(Array.isArray)) {
    throw new RestError(400, 'ERR a pipeline must be a non-empty JSON array of commands')
  }
  if (raw.length > MAX_PIPELINE_COMMANDS) {
    throw new RestError(400, `ERR a pipeline holds at most ${MAX_PIPELINE_COMMANDS} commands`)
  }
  return raw.map((command: unknown) => {
    try {
      return parseCommand(command)
    } catch (e) {
      if (e instanceof RestError) return e
      throw e
    }
  })
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

/** A command ready for stock Redis, and whether it is a script Upstash would confine to its KEYS. */
export interface ShimmedCommand {
  command: Command
  keyLocking: boolean
}

/**
 * Let scripts written for Upstash run on stock redis-server: drop Upstash-only shebang flags from
 * EVAL / SCRIPT LOAD, and point EVALSHA of the original text's SHA1 at the rewritten script, so a
 * client that computed the hash itself (@upstash/ratelimit does) still hits the script cache. Says
 * which calls carried `allow-key-locking` (remembered by SHA1 for EVALSHA), for the bridge to
 * enforce what Upstash does with it (./key-locking.ts).
 */
export function createScriptShim(): (command: Command) => ShimmedCommand {
  const scripts = new Map<string, { sha: string; keyLocking: boolean }>()
  const rewrite = (script: string): { script: string; keyLocking: boolean } => {
    const match = /^#!lua flags=([^\n]*)/.exec(script)
    if (!match?.[1]) return { script, keyLocking: false }
    const all = match[1].split(',').map((flag) => flag.trim())
    const flags = all.filter((flag) => !UPSTASH_ONLY_FLAGS.has(flag))
    const shebang = flags.length > 0 ? `#!lua flags=${flags.join(',')}` : '#!lua'
    const next = shebang + script.slice(match[0].length)
    const keyLocking = all.includes('allow-key-locking')
    if (next !== script || keyLocking) scripts.set(sha1(script), { sha: sha1(next), keyLocking })
    return { script: next, keyLocking }
  }
  return (command) => {
    const [name = '', first, ...rest] = command
    const upper = name.toUpperCase()
    if (first === undefined) return { command, keyLocking: false }
    if (upper === 'EVAL' || upper === 'EVAL_RO') {
      const { script, keyLocking } = rewrite(first)
      return { command: [name, script, ...rest], keyLocking }
    }
    if (upper === 'SCRIPT' && first.toUpperCase() === 'LOAD' && rest[0] !== undefined) {
      return {
        command: [name, first, rewrite(rest[0]).script, ...rest.slice(1)],
        keyLocking: false,
      }
    }
    if (upper === 'EVALSHA' || upper === 'EVALSHA_RO') {
      const known = scripts.get(first.toLowerCase())
      return {
        command: [name, known?.sha ?? first, ...rest],
        keyLocking: known?.keyLocking ?? false,
      }
    }
    return { command, keyLocking: false }
  }
}

function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex')
}
