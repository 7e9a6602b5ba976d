import type { RespValue } from './resp.ts'
import type { RespPool } from './resp-pool.ts'
import type { Command } from './upstash-rest.ts'

/**
 * Read replicas and read-your-writes as Upstash does them (docs, "Read Your Writes"): writes run on
 * the primary; every response carries `upstash-sync-token`, the primary's replication offset; a
 * read that presents a token is served by the replica only once the replica has caught up to it; a
 * read without one is served by the replica as it is, however far it lags. With no replica every
 * command runs on the one server and the token counts writes.
 */
export interface ReplicaRouting {
  run(
    batch: Command[],
    options: { write: boolean; presented: string | undefined },
  ): Promise<{ replies: RespValue[]; token: string }>
}

/** How long a read waits for the replica to reach its token before the primary answers it. */
const CATCH_UP_LIMIT_MS = 10_000
const POLL_MS = 5

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The replication offset in a ROLE reply (a primary's, or how far a replica has read). */
export function roleOffset(reply: RespValue): number {
  if (!Array.isArray(reply)) return 0
  const role = String(reply[0])
  const offset = role === 'master' ? reply[1] : role === 'slave' ? reply[4] : undefined
  return typeof offset === 'number' ? offset : 0
}

/**
 * @example const routing = createReplicaRouting({ primary, replica }); await routing.run([['GET', 'k']], { write: false, presented })
 */
export function createReplicaRouting(pools: {
  primary: RespPool
  replica?: RespPool
}): ReplicaRouting {
  const { primary, replica } = pools
  let writes = 0

  if (replica === undefined) {
    return {
      async run(batch, { write }) {
        const replies = await (await primary.connection()).send(batch)
        if (write) writes++
        return { replies, token: String(writes) }
      },
    }
  }

  let replicaAt = 0
  async function caughtUp(wanted: number): Promise<boolean> {
    const deadline = Date.now() + CATCH_UP_LIMIT_MS
    while (replicaAt < wanted) {
      if (Date.now() > deadline) return false
      replicaAt = Math.max(replicaAt, roleOffset(await (await replica!.connection()).call('ROLE')))
      if (replicaAt < wanted) await sleep(POLL_MS)
    }
    return true
  }
  const primaryOffset = async () => roleOffset(await (await primary.connection()).call('ROLE'))

  return {
    async run(batch, { write, presented }) {
      if (write) {
        // ROLE right after the batch on the same connection: an offset that includes its writes.
        const replies = await (await primary.connection()).send([...batch, ['ROLE']])
        return { replies: replies.slice(0, -1), token: String(roleOffset(replies.at(-1) ?? null)) }
      }
      const wanted = presented !== undefined && /^\d{1,18}$/.test(presented) ? Number(presented) : 0
      const onReplica = await caughtUp(wanted)
      const [replies, token] = await Promise.all([
        (await (onReplica ? replica : primary).connection()).send(batch),
        primaryOffset(),
      ])
      return { replies, token: String(token) }
    },
  }
}
