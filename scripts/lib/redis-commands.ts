import type { RespConnection, RespValue } from './resp.ts'

/**
 * What the Upstash bridge needs to know about each command, read once from the redis-server it
 * fronts (`COMMAND`): whether it writes (so it must run on the primary) and where its keys are (for
 * Upstash's key-size cap). Scripts (EVAL, FCALL) count as writes unless they are the `_RO` forms, as
 * Upstash serves only those on read replicas.
 */
export interface CommandSpec {
  write: boolean
  /** Legacy key spec: first key position, last (negative: from the end), step; 0 = no keys. */
  firstKey: number
  lastKey: number
  step: number
  movableKeys: boolean
}

export type CommandTable = ReadonlyMap<string, CommandSpec>

const SCRIPT_CALLS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO'])

/**
 * Reads the command table of the server behind `connection`.
 *
 * @example const table = await loadCommandTable(await connectResp({ port: 6379 }))
 */
export async function loadCommandTable(connection: RespConnection): Promise<CommandTable> {
  const reply = await connection.call('COMMAND')
  const table = new Map<string, CommandSpec>()
  if (!Array.isArray(reply)) return table
  for (const info of reply) {
    if (!Array.isArray(info)) continue
    const [name, , flags, firstKey, lastKey, step] = info as RespValue[]
    if (name === undefined || name === null || !Array.isArray(flags)) continue
    const flagSet = new Set(flags.map(String))
    table.set(String(name).toUpperCase(), {
      write: flagSet.has('write'),
      firstKey: Number(firstKey),
      lastKey: Number(lastKey),
      step: Number(step),
      movableKeys: flagSet.has('movablekeys'),
    })
  }
  return table
}

/** True when the command may write: it must run on the primary. Unknown commands count as writes. */
export function isWrite(table: CommandTable, command: readonly string[]): boolean {
  const name = (command[0] ?? '').toUpperCase()
  if (SCRIPT_CALLS.has(name)) return !name.endsWith('_RO')
  return table.get(name)?.write ?? true
}

/**
 * The key arguments of a command: scripts by their `numkeys`, XREAD by its STREAMS list, the rest
 * by the legacy key spec. Other commands with movable keys yield none.
 *
 * @example commandKeys(table, ['MSET', 'a', '1', 'b', '2']) // ['a', 'b']
 */
export function commandKeys(table: CommandTable, command: readonly string[]): string[] {
  const name = (command[0] ?? '').toUpperCase()
  if (SCRIPT_CALLS.has(name)) {
    const count = Number(command[2])
    return Number.isInteger(count) && count > 0 ? command.slice(3, 3 + count) : []
  }
  if (name === 'XREAD' || name === 'XREADGROUP') {
    const at = command.findIndex((arg) => arg.toUpperCase() === 'STREAMS')
    if (at < 0) return []
    const rest = command.slice(at + 1)
    return rest.slice(0, Math.floor(rest.length / 2))
  }
  const spec = table.get(name)
  if (spec === undefined || spec.firstKey <= 0 || spec.movableKeys) return []
  const last = spec.lastKey < 0 ? command.length + spec.lastKey : spec.lastKey
  const keys: string[] = []
  for (let i = spec.firstKey; i <= last && i < command.length; i += Math.max(1, spec.step)) {
    keys.push(command[i]!)
  }
  return keys
}
