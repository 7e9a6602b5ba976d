/**
 * What the Node origin's fast paths (node-token-fast-path.ts, node-verify-fast-path.ts) have in
 * common: the shape of a path — a wrapper that answers a request it takes from Node's own request and
 * response, and hands every other to the app's listener — and how one is put in front of the server's
 * listener.
 *
 * @example const fast = verifyFastPathFor(app, options); if (fast) installFastPath(server, fast)
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'

/** The listener wrapper: answers a request it takes, hands every other to `app`. */
export type NodeFastPath = (
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  app: RequestListener,
) => void

/**
 * Puts `fast` in front of the server's one request listener (the one `@hono/node-server` installed,
 * or another fast path already in front of it) and returns true; returns false and does nothing when
 * the server has no listener or more than one (the path would be skipped by, or skip, the other).
 *
 * @example if (installFastPath(server, fast)) installed.push('verify')
 */
export function installFastPath(server: Server, fast: NodeFastPath): boolean {
  const [app, ...others] = server.listeners('request') as RequestListener[]
  if (app === undefined || others.length > 0) return false
  server.removeListener('request', app)
  server.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) =>
    fast(incoming, outgoing, app),
  )
  return true
}
