import { connectResp, type RespConnection } from './resp.ts'

export interface RespPool {
  /** The next connection, round robin; a closed one is replaced on next use. */
  connection(): Promise<RespConnection>
  close(): Promise<void>
}

/**
 * A few lazily (re)opened connections to one redis-server, used in turn.
 *
 * @example const pool = createRespPool({ port: 6379 }, 4); await (await pool.connection()).call('PING')
 */
export function createRespPool(
  target: { host?: string; port: number },
  size: number,
  first?: RespConnection,
): RespPool {
  const slots: (Promise<RespConnection> | undefined)[] = new Array(size)
  if (first) slots[0] = Promise.resolve(first)
  let turn = 0
  return {
    async connection() {
      const slot = turn++ % size
      const current = slots[slot] ? await slots[slot].catch(() => undefined) : undefined
      if (current && !current.closed) return current
      const fresh = connectResp(target)
      slots[slot] = fresh
      return fresh
    },
    async close() {
      const open = await Promise.all(slots.map((p) => p?.catch(() => undefined)))
      await Promise.all(open.map((c) => c?.close()))
    },
  }
}
