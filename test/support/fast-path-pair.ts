/**
 * Two Node origins on one config for the fast paths' differential tests (node-token-fast-path.ts,
 * node-verify-fast-path.ts): the first with the path, the second without it, each logging into its
 * own array at `info`; and a server with a fast path in front of a stand-in app, for their routing
 * tests.
 *
 * @example const pair = await startFastPathPair('verifyFastPath', { GATEHOUSE_CONFIG: path }); const [fast, app] = pair.origins
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { NodeFastPath } from '../../src/entry/node-fast-path.ts'
import { startNodeServer, type NodeServer } from '../../src/entry/node-server.ts'
import type { LogRecord } from '../../src/http/log.ts'

export interface LoggedOrigin {
  server: NodeServer
  logs: LogRecord[]
}

export interface FastPathPair {
  /** With the path, then without it. */
  origins: [LoggedOrigin, LoggedOrigin]
  close(): Promise<void>
}

export async function startFastPathPair(
  option: 'tokenFastPath' | 'verifyFastPath',
  env: Record<string, string>,
): Promise<FastPathPair> {
  const origins: LoggedOrigin[] = []
  const close = async () => {
    for (const { server } of origins) await server.shutdown()
  }
  try {
    for (const on of [true, false]) {
      const logs: LogRecord[] = []
      const server = await startNodeServer(
        { PORT: '0', HOST: '127.0.0.1', GATEHOUSE_LOG_LEVEL: 'info', ...env },
        { logger: { log: (r) => void logs.push(r) }, [option]: on },
      )
      origins.push({ server, logs })
    }
  } catch (e) {
    await close()
    throw e
  }
  return { origins: origins as [LoggedOrigin, LoggedOrigin], close }
}

/** A server running `fast` in front of `app`: the routing tests' stand-in for the app's listener. */
export interface StandInServer {
  port: number
  close(): Promise<void>
}

/**
 * Listens with `fast` in front of a stand-in app that calls `record` with what reaches it and answers
 * 418, so a test can tell what the path answered itself.
 *
 * @example const s = await listenWithStandIn(fast, (incoming) => seen.push(incoming.url))
 */
export async function listenWithStandIn(
  fast: NodeFastPath,
  record: (incoming: IncomingMessage) => void,
): Promise<StandInServer> {
  const server = createServer((req, res) =>
    fast(req, res, (incoming, outgoing) => {
      record(incoming)
      outgoing.writeHead(418).end()
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
