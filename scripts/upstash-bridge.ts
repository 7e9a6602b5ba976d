import { createHash, timingSafeEqual } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { connectResp, RespError, type RespConnection, type RespValue } from './lib/resp.ts'
import {
  createScriptShim,
  parseCommand,
  parseCommands,
  RestError,
  toEntry,
  toJson,
} from './lib/upstash-rest.ts'

export interface UpstashBridgeOptions {
  redisHost?: string
  redisPort: number
  /** HTTP port; 0 (default) picks a free one. */
  port?: number
  /** HTTP bind address. Default 127.0.0.1: the bridge is for development and tests only. */
  host?: string
  token: string
  /** Request bodies above this are refused with 413. Default 10 MiB. */
  maxBodyBytes?: number
  /** Redis connections to spread requests over. Default 4. */
  poolSize?: number
}

export interface UpstashBridge {
  url: string
  token: string
  close(): Promise<void>
}

/**
 * An Upstash-REST-compatible HTTP server in front of a real redis-server, so development and tests run
 * the production store adapter (and @upstash/redis itself) against real Redis semantics. Speaks what
 * Upstash does: POST a command array at `/`, an array of them at `/pipeline` (not atomic) and
 * `/multi-exec` (MULTI/EXEC on one connection, atomic); bearer token; `{"result"}`/`{"error"}` with
 * 200/400/401; base64 results on `Upstash-Encoding: base64`. Scripts carrying Upstash-only shebang
 * flags (@upstash/ratelimit's) are adapted for stock Redis. Hostile input gets an Upstash-shaped 4xx,
 * never a crash. Binds to loopback by default.
 *
 * @example
 * const bridge = await startUpstashBridge({ redisPort: 6379, token: 'dev-token' })
 * const store = createUpstashStore({ url: bridge.url, token: bridge.token })
 * await bridge.close()
 */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const { redisHost = '127.0.0.1', redisPort, port = 0, host = '127.0.0.1', token } = options
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024
  const poolSize = options.poolSize ?? 4
  if (typeof token !== 'string' || token.length === 0) throw new TypeError('token is required')
  const expectedDigest = digest(token)
  const pool: (Promise<RespConnection> | undefined)[] = new Array(poolSize)
  let turn = 0
  const shimScript = createScriptShim()

  /** Round-robin over lazily (re)opened connections; a dead one is replaced on next use. */
  async function connection(): Promise<RespConnection> {
    const slot = turn++ % poolSize
    const current = pool[slot] ? await pool[slot].catch(() => undefined) : undefined
    if (current && !current.closed) return current
    const fresh = connectResp({ host: redisHost, port: redisPort })
    pool[slot] = fresh
    return fresh
  }

  // Fail at start, with a clear message, when redis-server is not there.
  const probe = await connectResp({ host: redisHost, port: redisPort }).catch(() => {
    throw new Error(`redis-server is not reachable at ${redisHost}:${redisPort}`)
  })
  pool[0] = Promise.resolve(probe)

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
      if (!authorized(req.headers.authorization)) throw new RestError(401, 'Unauthorized')
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > maxBodyBytes) throw new RestError(413, 'ERR max request size exceeded')
      const text = await readBody(req, maxBodyBytes)
      if (text === undefined) throw new RestError(413, 'ERR max request size exceeded')
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new RestError(400, 'ERR failed to parse the request body as JSON')
      }
      const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64'
      if (path === '/') {
        const [reply] = await (await connection()).send([shimScript(parseCommand(body))])
        if (reply instanceof RespError) return send(res, 400, { error: reply.message })
        return send(res, 200, { result: toJson(reply ?? null, base64) })
      }
      const commands = parseCommands(body).map(shimScript)
      if (path === '/pipeline') {
        const replies = await (await connection()).send(commands)
        return send(
          res,
          200,
          replies.map((reply) => toEntry(reply, base64)),
        )
      }
      // One write on one connection: MULTI, the commands, EXEC. Redis runs the queue atomically.
      const replies = await (await connection()).send([['MULTI'], ...commands, ['EXEC']])
      const exec: RespValue = replies.at(-1) ?? null
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
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      const open = await Promise.all(pool.map((p) => p?.catch(() => undefined)))
      await Promise.all(open.map((c) => c?.close()))
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
    },
  })
  const bridge = await startUpstashBridge({
    redisHost: values['redis-host'],
    redisPort: portNumber('--redis-port', values['redis-port']),
    host: values.host,
    port: portNumber('--port', values.port),
    token: values.token,
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
