import type { Command } from './upstash-rest.ts'

/**
 * How many entries an approximate trim keeps, relative to the threshold N: Upstash trims
 * `MAXLEN ~ N` to N−1, N or N+1 (its client's own test, upstash/redis-js `xtrim.test.ts`, expects 29
 * to 31 of 30 against a real database), where stock Redis trims whole 100-entry radix-tree nodes
 * (`~ 30` on 1,000 entries leaves 100).
 */
export type ApproximateTrim = -1 | 0 | 1

/**
 * Rewrites the approximate trims of XADD and XTRIM (`MAXLEN ~ N`, `MINID ~ id`) into exact ones, so
 * code under test meets Upstash's trimming instead of stock Redis's: `MAXLEN ~ N` keeps N + `keep`
 * (default −1: a trimmed stream then holds fewer entries than asked and looks untrimmed to anyone
 * counting), `MINID ~ id` is exact. `LIMIT`, meaningful only with `~`, is dropped. Other commands,
 * and calls from inside scripts, are left alone.
 *
 * @example exactTrims(['XADD', 's', 'MAXLEN', '~', '30', '*', 'f', 'v'], -1) // [..., 'MAXLEN', '=', '29', ...]
 */
export function exactTrims(command: Command, keep: ApproximateTrim): Command {
  const name = (command[0] ?? '').toUpperCase()
  if (name !== 'XADD' && name !== 'XTRIM') return command
  const out = command.slice(0, 2)
  let i = 2
  while (i < command.length) {
    const arg = command[i]!
    const upper = arg.toUpperCase()
    if (upper === 'NOMKSTREAM') {
      out.push(arg)
      i += 1
      continue
    }
    if (upper !== 'MAXLEN' && upper !== 'MINID') break
    const start = i
    const modifier = command[i + 1]
    const approximate = modifier === '~'
    const thresholdAt = modifier === '~' || modifier === '=' ? i + 2 : i + 1
    const threshold = command[thresholdAt]
    if (threshold === undefined) return command // malformed: let Redis say so
    i = thresholdAt + 1
    if (command[i]?.toUpperCase() === 'LIMIT') i += 2
    if (!approximate) {
      out.push(...command.slice(start, i))
      continue
    }
    const exact =
      upper === 'MAXLEN' && /^\d+$/.test(threshold)
        ? String(Math.max(0, Number(threshold) + keep))
        : threshold
    out.push(arg, '=', exact)
  }
  return [...out, ...command.slice(i)]
}
