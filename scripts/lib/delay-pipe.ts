import { connect, createServer, type Server, type Socket } from 'node:net'

export interface DelayPipe {
  readonly port: number
  /** Holds everything from now on (a replica that falls arbitrarily far behind) until release. */
  hold(): void
  /** Sends what was held, in order, and lets new chunks through again (after the delay). */
  release(): void
  close(): Promise<void>
}

/**
 * A loopback TCP pipe that holds every chunk for `delayMs` in each direction, order kept. Put on a
 * replica's link to its primary, it makes a replica that lags by that much (the bridge's
 * replica-lag mode), with Redis's own replication doing the rest.
 *
 * @example const pipe = await startDelayPipe({ targetPort: 6379, delayMs: 200 })
 */
export async function startDelayPipe(options: {
  targetPort: number
  targetHost?: string
  delayMs: number
}): Promise<DelayPipe> {
  const { targetPort, targetHost = '127.0.0.1', delayMs } = options
  const sockets = new Set<Socket>()
  let held: (() => void)[] | undefined
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      const send = () =>
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk)
        }, delayMs)
      if (held) held.push(send)
      else send()
    })
    from.on('close', () => setTimeout(() => to.destroy(), delayMs))
    from.on('error', () => to.destroy())
  }
  const server: Server = createServer((client) => {
    const upstream = connect({ host: targetHost, port: targetPort })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as { port: number }).port,
    hold() {
      held ??= []
    },
    release() {
      const queued = held ?? []
      held = undefined
      for (const send of queued) send()
    },
    async close() {
      held = undefined
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
