import { connect, type Socket } from 'node:net'

/**
 * A small RESP2 client over node:net for development and tests (the Upstash bridge, the redis test
 * harness). Written instead of installing `redis`/`ioredis` because the bridge needs the raw reply
 * types (simple vs bulk strings, errors nested in EXEC replies) that those clients convert away, and
 * the whole protocol subset we need is ~150 lines. Pipelining: commands written together are answered
 * in order on the one connection.
 */

/** A Redis error reply. A value, not a throw: inside EXEC replies it sits next to successes. */
export class RespError {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/** Simple strings are `string`, bulk strings `Buffer` (binary-safe), integers `number`. */
export type RespValue = string | Buffer | number | null | RespError | RespValue[]
export type RespArg = string | Buffer

const CRLF = Buffer.from('\r\n')

/** `*N\r\n$len\r\narg\r\n…`: every argument as a binary-safe bulk string. */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF)
  }
  return Buffer.concat(parts)
}

/**
 * Incremental RESP2 reply parser: feed it chunks as they arrive, get back every complete reply. A
 * large bulk string is not re-parsed on every chunk: the parser remembers how many bytes it needs.
 */
export class RespParser {
  private chunks: Buffer[] = []
  private buffered = 0
  private needed = 0

  push(chunk: Buffer): RespValue[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered < this.needed) return []
    let buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered)
    const replies: RespValue[] = []
    let pos = 0
    for (;;) {
      const state = { need: 0 }
      const parsed = parseValue(buf, pos, state)
      if (!parsed) {
        this.needed = state.need - pos
        break
      }
      replies.push(parsed.value)
      pos = parsed.end
      this.needed = 0
    }
    buf = buf.subarray(pos)
    this.chunks = buf.length > 0 ? [buf] : []
    this.buffered = buf.length
    return replies
  }
}

function parseValue(
  buf: Buffer,
  pos: number,
  state: { need: number },
): { value: RespValue; end: number } | undefined {
  const lineEnd = buf.indexOf(CRLF, pos)
  if (lineEnd < 0) {
    state.need = buf.length + 1
    return undefined
  }
  const type = String.fromCharCode(buf[pos] ?? 0)
  const line = buf.toString('utf8', pos + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, end: next }
    case '-':
      return { value: new RespError(line), end: next }
    case ':':
      return { value: toInteger(line), end: next }
    case '$': {
      const length = toInteger(line)
      if (length === -1) return { value: null, end: next }
      if (length < 0) throw new Error('RESP protocol error: bad bulk length')
      if (buf.length < next + length + 2) {
        state.need = next + length + 2
        return undefined
      }
      return { value: Buffer.from(buf.subarray(next, next + length)), end: next + length + 2 }
    }
    case '*': {
      const count = toInteger(line)
      if (count === -1) return { value: null, end: next }
      if (count < 0) throw new Error('RESP protocol error: bad array length')
      const items: RespValue[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseValue(buf, at, state)
        if (!item) return undefined
        items.push(item.value)
        at = item.end
      }
      return { value: items, end: at }
    }
    default:
      throw new Error('RESP protocol error: unknown reply type')
  }
}

function toInteger(line: string): number {
  if (!/^-?\d{1,20}$/.test(line)) throw new Error('RESP protocol error: bad integer')
  return Number(line)
}

export interface RespConnection {
  /** Write all commands in one go; resolves their replies in order (errors as `RespError` values). */
  send(commands: readonly (readonly RespArg[])[]): Promise<RespValue[]>
  /** One command; a Redis error reply rejects. */
  call(...args: RespArg[]): Promise<RespValue>
  readonly closed: boolean
  close(): Promise<void>
}

export interface RespConnectOptions {
  host?: string
  port: number
  connectTimeoutMs?: number
}

/**
 * Open a connection to redis-server.
 *
 * @example
 * const redis = await connectResp({ port: 6379 })
 * await redis.call('PING') // 'PONG'
 */
export function connectResp(options: RespConnectOptions): Promise<RespConnection> {
  const { host = '127.0.0.1', port, connectTimeoutMs = 5000 } = options
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port })
    socket.setNoDelay(true)
    const timer = setTimeout(
      () => socket.destroy(new Error('redis connect timed out')),
      connectTimeoutMs,
    )
    const pending: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = []
    const parser = new RespParser()
    let closed = false

    const fail = (error: Error): void => {
      closed = true
      for (const p of pending.splice(0)) p.reject(error)
    }
    socket.on('data', (chunk: Buffer) => {
      let replies: RespValue[]
      try {
        replies = parser.push(chunk)
      } catch (e) {
        socket.destroy(e instanceof Error ? e : new Error(String(e)))
        return
      }
      for (const reply of replies) pending.shift()?.resolve(reply)
    })
    socket.on('error', (e) => {
      clearTimeout(timer)
      fail(new Error(`redis connection failed: ${e.message}`))
      reject(e)
    })
    socket.on('close', () => fail(new Error('redis connection closed')))
    socket.once('connect', () => {
      clearTimeout(timer)
      const connection: RespConnection = {
        get closed() {
          return closed
        },
        send(commands) {
          if (closed) return Promise.reject(new Error('redis connection closed'))
          const replies = commands.map(
            () => new Promise<RespValue>((res, rej) => pending.push({ resolve: res, reject: rej })),
          )
          socket.write(Buffer.concat(commands.map(encodeCommand)))
          return Promise.all(replies)
        },
        async call(...args) {
          const [reply] = await connection.send([args])
          if (reply instanceof RespError) throw new Error(reply.message)
          return reply ?? null
        },
        close() {
          closed = true
          return new Promise((done) => {
            if (socket.destroyed) return done()
            socket.once('close', () => done())
            socket.end()
          })
        },
      }
      resolve(connection)
    })
  })
}

/**
 * Polls a just-started redis-server until it answers PING with PONG (it says LOADING while replaying
 * its append-only file), backing off from 5 to 100 ms. Throws `Error('exited')` as soon as
 * `exited()` reports the process gone, and the last connection error once `deadlineMs` has passed.
 *
 * @example await waitForPong(port, { deadlineMs: 10_000, exited: () => child.exitCode !== null })
 */
export async function waitForPong(
  port: number,
  options: { deadlineMs: number; exited?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.deadlineMs
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    if (options.exited?.()) throw new Error('exited')
    try {
      const connection = await connectResp({ port, connectTimeoutMs: 1000 })
      try {
        if ((await connection.call('PING')) === 'PONG') return
      } finally {
        await connection.close()
      }
    } catch (e) {
      if (Date.now() > deadline) throw e
    }
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}
