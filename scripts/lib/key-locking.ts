import { RespError, type RespValue } from './resp.ts'
import type { Command } from './upstash-rest.ts'

/**
 * Upstash's `allow-key-locking` script flag, enforced on stock Redis. On Upstash a script carrying
 * it locks only the keys passed in KEYS, so every key it touches must be one of them, and commands
 * that need the whole database are refused (Upstash docs, EVAL and "Key-Based Locking"). Stock
 * Redis rejects the flag (the bridge strips it) and lets a script touch any key, so a test could
 * pass here with a script Upstash refuses. The bridge therefore runs such a script as a throwaway
 * Redis ACL user allowed exactly the declared keys: Redis itself then refuses any other key, from
 * inside the script too. The batch runs on one connection, written in one piece, so no other
 * request's commands run under that user.
 */

/** Refused on Upstash with the flag: commands that need database-wide access. */
const DATABASE_WIDE = ['-@dangerous', '-@admin', '-scan', '-randomkey', '-dbsize']

export const KEY_LOCKING_ERROR =
  'ERR script with allow-key-locking accessed a key not declared in KEYS, or the whole database'

let counter = 0

/** ACL key patterns are globs: a declared key is matched literally. */
const globEscape = (key: string): string => key.replace(/[*?[\]\\]/g, '\\$&')

/**
 * The batch that runs `command` (a script call) confined to `keys`, and where its reply sits.
 *
 * @example const { batch, at } = confineToKeys(['EVAL', body, '1', 'k'], ['k'])
 */
export function confineToKeys(
  command: Command,
  keys: readonly string[],
): {
  batch: Command[]
  at: number
} {
  const user = `upstash-bridge-script-${process.pid}-${++counter}`
  const rules = keys.length > 0 ? keys.map((key) => `~${globEscape(key)}`) : ['resetkeys']
  return {
    batch: [
      ['ACL', 'SETUSER', user, 'reset', 'on', 'nopass', ...rules, '+@all', ...DATABASE_WIDE],
      ['AUTH', user, 'unused'],
      command,
      // The pool's connections are the default user's, which has no password (nopass).
      ['AUTH', 'default', 'unused'],
      ['ACL', 'DELUSER', user],
    ],
    at: 2,
  }
}

/** Redis's NOPERM refusal, in the words the bridge answers with (Upstash's own text may differ). */
export function keyLockingReply(reply: RespValue): RespValue {
  const refused = /NOPERM|can't access|no permissions/
  return reply instanceof RespError && refused.test(reply.message)
    ? new RespError(KEY_LOCKING_ERROR)
    : reply
}
