/**
 * Port checks for `npm run dev`: every port is tried before anything starts, so a port in use is one
 * clear message naming the service and the flag that moves it, never a hang or a half-started stack.
 */
import type { Server } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'

export interface NamedPort {
  /** What would listen there, e.g. "origin". */
  name: string
  port: number
  /** The command-line flag that changes it, e.g. "--origin-port". */
  flag: string
}

/** Thrown when one or more ports are taken; the message is ready to print. */
export class PortsInUseError extends Error {
  override readonly name = 'PortsInUseError'
  readonly ports: NamedPort[]
  constructor(host: string, ports: NamedPort[]) {
    super(
      ports
        .map(
          (p) =>
            `port ${p.port} on ${host} (${p.name}) is already in use: stop what listens there ` +
            `(\`lsof -i :${p.port}\`) or pick another with \`npm run dev -- ${p.flag} <port>\``,
        )
        .join('\n'),
    )
    this.ports = ports
  }
}

/** Resolves true when `port` can be bound on `host` right now (and releases it again). */
export function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false)
      else reject(err)
    })
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/**
 * @example await assertPortsFree('127.0.0.1', [{ name: 'origin', port: 8788, flag: '--origin-port' }])
 */
export async function assertPortsFree(host: string, ports: NamedPort[]): Promise<void> {
  const taken: NamedPort[] = []
  for (const p of ports) if (!(await isPortFree(p.port, host))) taken.push(p)
  if (taken.length > 0) throw new PortsInUseError(host, taken)
}

/** A port the OS says is free now (another process may still take it before we bind). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts `server` on `host:port` (0 for any free port) and hands back its URL and a `close` that
 * also drops keep-alive connections, for the dev stack's small HTTP servers.
 *
 * @example const { url, close } = await listenLocal(createServer(handler), '127.0.0.1', 0)
 */
export async function listenLocal(
  server: Server,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
