/**
 * A fault-injecting TCP proxy for chaos tests (node:net, loopback only). It sits between two real
 * processes (edge → origin, bridge → redis-server) and, on command, adds latency to every chunk in
 * both directions, refuses connections (the listener is closed: ECONNREFUSED), resets them (TCP RST on
 * every open and every new connection), or black-holes them (accepts, then forwards nothing either
 * way: the peer waits until its own deadline). `setTarget` re-points it, so a restarted process on a new
 * port is reachable at the same address.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

export type TcpProxyMode = 'pass' | 'refuse' | 'reset' | 'blackhole'

export interface TcpProxyOptions {
  targetPort: number
  /** Default 127.0.0.1. */
  targetHost?: string
  /** Listening port; default 0 (a free one, then kept across `refuse` and back). */
  port?: number
}

export interface TcpProxy {
  readonly port: number
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  readonly mode: TcpProxyMode
  /** Open client connections. */
  readonly connections: number
  setTarget(port: number, host?: string): void
  /** Milliseconds added to every chunk, each direction; 0 turns it off. Order is preserved. */
  setLatency(ms: number): void
  /** Switches mode; `refuse` closes the listener, leaving it re-listens on the same port. */
  setMode(mode: TcpProxyMode): Promise<void>
  /** Resets (RST) every open connection now, whatever the mode. */
  resetConnections(): void
  close(): Promise<void>
}

const HOST = '127.0.0.1'

interface Pair {
  client: Socket
  upstream: Socket | undefined
}

/**
 * Starts the proxy on loopback.
 *
 * @example
 * const proxy = await startTcpProxy({ targetPort: origin.port })
 * await proxy.setMode('blackhole') // requests through proxy.url now hang until the caller's deadline
 * await proxy.setMode('pass')
 * await proxy.close()
 */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  let targetPort = options.targetPort
  let targetHost = options.targetHost ?? HOST
  let latencyMs = 0
  let mode: TcpProxyMode = 'pass'
  let server: Server | undefined
  let port = options.port ?? 0
  const pairs = new Set<Pair>()

  const destroy = (pair: Pair, reset: boolean): void => {
    pairs.delete(pair)
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket || socket.destroyed) continue
      if (reset) socket.resetAndDestroy()
      else socket.destroy()
    }
  }

  /** Forwards `from` → `to` with the current latency, chunk order kept by one queue per direction. */
  const pipe = (pair: Pair, from: Socket, to: () => Socket | undefined): void => {
    const queue: { due: number; chunk: Buffer }[] = []
    let timer: NodeJS.Timeout | undefined
    let ended = false
    const drain = (): void => {
      timer = undefined
      const target = to()
      while (queue.length > 0 && queue[0]!.due <= Date.now()) {
        const { chunk } = queue.shift()!
        if (target && !target.destroyed) target.write(chunk)
      }
      if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0]!.due - Date.now()))
      else if (ended && target && !target.destroyed) target.end()
    }
    from.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') return // swallowed: the peer never hears back
      queue.push({ due: Date.now() + latencyMs, chunk })
      if (timer === undefined) drain()
    })
    from.on('end', () => {
      ended = true
      if (timer === undefined) drain()
    })
    from.on('error', () => destroy(pair, false))
    from.on('close', () => {
      clearTimeout(timer)
      if (mode !== 'blackhole') setImmediate(() => destroy(pair, false))
    })
  }

  const onConnection = (client: Socket): void => {
    if (mode === 'reset') {
      client.resetAndDestroy()
      return
    }
    const pair: Pair = { client, upstream: undefined }
    pairs.add(pair)
    client.on('error', () => destroy(pair, false))
    if (mode === 'blackhole') {
      // Accepted and held: bytes are read and dropped, nothing is ever sent back.
      client.on('data', () => {})
      client.on('close', () => pairs.delete(pair))
      return
    }
    const upstream = connect({ host: targetHost, port: targetPort })
    pair.upstream = upstream
    upstream.on('error', () => destroy(pair, true))
    pipe(pair, client, () => pair.upstream)
    pipe(pair, upstream, () => pair.client)
  }

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer({ noDelay: true }, onConnection)
      s.once('error', reject)
      s.listen(port, HOST, () => {
        s.off('error', reject)
        port = (s.address() as { port: number }).port
        server = s
        resolve()
      })
    })

  const unlisten = (): void => {
    server?.close()
    server = undefined
  }

  await listen()

  return {
    get port() {
      return port
    },
    get url() {
      return `http://${HOST}:${port}`
    },
    get mode() {
      return mode
    },
    get connections() {
      return pairs.size
    },
    setTarget(newPort, host = HOST) {
      targetPort = newPort
      targetHost = host
    },
    setLatency(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('latency must be >= 0 ms')
      latencyMs = ms
    },
    async setMode(next) {
      const previous = mode
      mode = next
      if (next === 'refuse' || next === 'reset') {
        for (const pair of [...pairs]) destroy(pair, true)
      }
      if (next === 'refuse' && previous !== 'refuse') unlisten()
      if (next !== 'refuse' && previous === 'refuse') await listen()
      if (previous === 'blackhole' && next !== 'blackhole') {
        // Connections held in the hole carry half-delivered requests: end them like a real outage.
        for (const pair of [...pairs]) destroy(pair, true)
      }
    },
    resetConnections() {
      for (const pair of [...pairs]) destroy(pair, true)
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair, false)
      const s = server
      server = undefined
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
    },
  }
}
