import { createHash, timingSafeEqual } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { confineToKeys, keyLockingReply } from './lib/key-locking.ts'
import { startLaggingReplica, type LaggingReplica } from './lib/lagging-replica.ts'
import { commandKeys, isWrite, loadCommandTable, type CommandTable } from './lib/redis-commands.ts'
import { createReplicaRouting } from './lib/replica-reads.ts'
import { connectResp, RespError, type RespValue } from './lib/resp.ts'
import { createRespPool, type RespPool } from './lib/resp-pool.ts'
import {
  createScriptShim,
  parseCommand,
  parseCommands,
  RestError,
  toEntry,
  toJson,
  type Command,
} from './lib/upstash-rest.ts'
import { exactTrims, type ApproximateTrim } from './lib/upstash-trim.ts'

export interface UpstashBridgeOptions {
  redisHost?: string
  redisPort: number
  /** HTTP port; 0 (default) picks a free one. */
  port?: number
  /** HTTP bind address. Default 127.0.0.1: the bridge is for development and tests only. */
  host?: string
  token: string
  /** Request bodies above this are refused as Upstash refuses them (400). Default 10 MB, Upstash's. */
  maxBodyBytes?: number
  /** Redis connections to spread requests over. Default 4. */
  poolSize?: number
  /**
   * Serve reads from a replica of the primary that lags by this many milliseconds, as Upstash's
   * read replicas can: a read sees the writes of its own client (the sync token) but not
   * necessarily anyone else's. Starts a second redis-server. Default 0: one always-consistent node.
   */
  replicaLagMs?: number
  /** What `MAXLEN ~ N` keeps: N − 1 (default), N or N + 1 entries, as Upstash trims. */
  approximateTrim?: ApproximateTrim
}

export interface UpstashBridge {
  url: string
  token: string
  /** With `replicaLagMs`: the replica's link to the primary, to hold it behind at will (tests). */
  replicaLink?: { hold(): void; release(): void }
  close(): Promise<void>
}

/** Upstash's hard cap on a key (docs, "ERR max key size exceeded"). */
const MAX_KEY_BYTES = 32 * 1024

/**
 * An Upstash-REST-compatible HTTP server in front of a real redis-server, so development and tests run
 * the production store adapter (and @upstash/redis itself) against real Redis semantics. Speaks what
 * Upstash does: POST a command array at `/`, an array of them at `/pipeline` (not atomic) and
 * `/multi-exec` (MULTI/EXEC on one connection, atomic); bearer token; `{"result"}`/`{"error"}` with
 * 200/400/401; base64 results on `Upstash-Encoding: base64`; `upstash-sync-token` on every response.
 * Where stock Redis behaves otherwise it behaves like Upstash: approximate stream trims keep N±1
 * (./lib/upstash-trim.ts), scripts flagged `allow-key-locking` may touch only their KEYS
 * (./lib/key-locking.ts), reads may come from a lagging replica (`replicaLagMs`,
 * ./lib/replica-reads.ts), requests over 10 MB and keys over 32 KB are refused with Upstash's errors.
 * What still differs is listed in docs/upstash.md. Hostile input gets an Upstash-shaped 4xx, never a
 * crash. Binds to loopback by default.
 *
 * @example
 * const bridge = await startUpstashBridge({ redisPort: 6379, token: 'dev-token', replicaLagMs: 200 })
 * const store = createUpstashStore({ url: bridge.url, token: bridge.token })
 * await bridge.close()
 */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const { redisHost = '127.0.0.1', redisPort, port = 0, host = '127.0.0.1', token } = options
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024
  const poolSize = options.poolSize ?? 4
  const trimKeep = options.approximateTrim ?? -1
  if (typeof token !== 'string' || token.length === 0) throw new TypeError('token is required')
  const expectedDigest = digest(token)
  const shimScript = createScriptShim()

  // Fail at start, with a clear message, when redis-server is not there.
  const probe = await connectResp({ host: redisHost, port: redisPort }).catch(() => {
    throw new Error(`redis-server is not reachable at ${redisHost}:${redisPort}`)
  })
  const commands: CommandTable = await loadCommandTable(probe)
  const primary = createRespPool({ host: redisHost, port: redisPort }, poolSize, probe)
  let replica: LaggingReplica | undefined
  let replicaPool: RespPool | undefined
  if ((options.replicaLagMs ?? 0) > 0) {
    if (redisHost !== '127.0.0.1' && redisHost !== 'localhost') {
      throw new Error('replicaLagMs needs redis-server on loopback')
    }
    replica = await startLaggingReplica({ primaryPort: redisPort, lagMs: options.replicaLagMs! })
    replicaPool = createRespPool({ port: replica.port }, poolSize)
  }
  const routing = createReplicaRouting({
    primary,
    ...(replicaPool ? { replica: replicaPool } : {}),
  })

  /** What runs on Redis for one command of the request, and where its reply will be. */
  function prepare(parsed: Command): { batch: Command[]; at: number } {
    const { command, keyLocking } = shimScript(exactTrims(parsed, trimKeep))
    for (const key of commandKeys(commands, command)) {
      const bytes = Buffer.byteLength(key)
      if (bytes > MAX_KEY_BYTES) {
        throw new RestError(
          400,
          `ERR max key size exceeded. Limit: ${MAX_KEY_BYTES} bytes, Actual: ${bytes} bytes`,
        )
      }
    }
    if (!keyLocking) return { batch: [command], at: 0 }
    return confineToKeys(command, commandKeys(commands, command))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // Only Redis going away lands here; the message names no input.
      send(res, 500, { error: 'ERR redis unavailable' })
    })
  })
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://bridge').pathname.replace(/(.)\/+$/, '$1')
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST')
        throw new RestError(405, 'ERR only POST is supported')
      }
      if (path !== '/' && path !== '/pipeline' && path !== '/multi-exec') {
        throw new RestError(404, 'ERR unknown endpoint')
      }
      if (!authorized(req.headers.authorization)) {
        throw new RestError(401, 'WRONGPASS invalid or missing auth token')
      }
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > maxBodyBytes) throw new RestError(400, 'ERR max request size exceeded')
      const text = await readBody(req, maxBodyBytes)
      if (text === undefined) throw new RestError(400, 'ERR max request size exceeded')
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new RestError(400, 'ERR failed to parse the request body as JSON')
      }
      const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64'
      const presented = req.headers['upstash-sync-token']
      const sync = typeof presented === 'string' ? presented : undefined

      if (path === '/') {
        const command = parseCommand(body)
        const { batch, at } = prepare(command)
        const ran = await routing.run(batch, {
          write: isWrite(commands, command),
          presented: sync,
        })
        res.setHeader('upstash-sync-token', ran.token)
        const reply = keyLockingReply(ran.replies[at] ?? null)
        if (reply instanceof RespError) return send(res, 400, { error: reply.message })
        return send(res, 200, { result: toJson(reply, base64) })
      }

      const parsed = parseCommands(body)
      const write =
        path === '/multi-exec' ||
        parsed.some((c) => !(c instanceof RestError) && isWrite(commands, c))
      if (path === '/pipeline') {
        // Refused commands answer in place; the others run, in order, in one batch.
        const entries: (RestError | { batch: Command[]; at: number })[] = parsed.map((c) => {
          if (c instanceof RestError) return c
          try {
            return prepare(c)
          } catch (e) {
            if (e instanceof RestError) return e
            throw e
          }
        })
        const batch: Command[] = []
        const positions = entries.map((entry) => {
          if (entry instanceof RestError) return -1
          batch.push(...entry.batch)
          return batch.length - entry.batch.length + entry.at
        })
        const ran = await routing.run(batch, { write, presented: sync })
        res.setHeader('upstash-sync-token', ran.token)
        return send(
          res,
          200,
          entries.map((entry, i) =>
            entry instanceof RestError
              ? { error: entry.message }
              : toEntry(keyLockingReply(ran.replies[positions[i]!] ?? null), base64),
          ),
        )
      }
      // One write on one connection: MULTI, the commands, EXEC. Redis runs the queue atomically.
      // A refused command aborts the whole transaction, as a queue-time error does in Redis.
      const refused = parsed.find((c): c is RestError => c instanceof RestError)
      if (refused) throw refused
      // Inside MULTI a script runs unconfined (Upstash takes the global lock there anyway).
      const queued = (parsed as Command[]).map((c) => {
        const { batch, at } = prepare(c)
        return batch[at]!
      })
      const ran = await routing.run([['MULTI'], ...queued, ['EXEC']], { write, presented: sync })
      res.setHeader('upstash-sync-token', ran.token)
      const exec: RespValue = ran.replies.at(-1) ?? null
      if (exec instanceof RespError) return send(res, 400, { error: exec.message })
      if (!Array.isArray(exec)) return send(res, 400, { error: 'ERR transaction aborted' })
      return send(
        res,
        200,
        exec.map((reply) => toEntry(reply, base64)),
      )
    } catch (e) {
      if (!(e instanceof RestError)) throw e
      send(res, e.status, { error: e.message })
    }
  }

  function authorized(header: string | undefined): boolean {
    const match = /^Bearer (\S+)$/i.exec(header ?? '')
    // Compare digests: constant time whatever the presented length.
    return !!match?.[1] && timingSafeEqual(digest(match[1]), expectedDigest)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address

  return {
    url: `http://${urlHost}:${address.port}`,
    token,
    ...(replica ? { replicaLink: replica.link } : {}),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await primary.close()
      await replicaPool?.close()
      await replica?.close()
    },
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end()
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

/**
 * The body as UTF-8, or `undefined` once it passes `max` bytes. Past the cap the rest is drained and
 * dropped rather than the socket reset, so the client reliably reads the 413 instead of ECONNRESET.
 */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > max) over = true
      if (over) chunks.length = 0
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'redis-host': { type: 'string', default: '127.0.0.1' },
      'redis-port': { type: 'string', default: '6379' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8079' },
      token: { type: 'string', default: process.env.UPSTASH_BRIDGE_TOKEN ?? 'dev-token' },
      'replica-lag-ms': { type: 'string', default: '0' },
    },
  })
  const bridge = await startUpstashBridge({
    redisHost: values['redis-host'],
    redisPort: portNumber('--redis-port', values['redis-port']),
    host: values.host,
    port: portNumber('--port', values.port),
    token: values.token,
    replicaLagMs: Number(values['replica-lag-ms']),
  })
  // The token is the operator's own; it is still not printed.
  console.log(
    `upstash bridge on ${bridge.url} -> redis ${values['redis-host']}:${values['redis-port']}`,
  )
  const stop = (): void => void bridge.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

function portNumber(flag: string, text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be a port number`)
  return n
}

function invokedDirectly(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (invokedDirectly()) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e)
    process.exit(1)
  })
}
