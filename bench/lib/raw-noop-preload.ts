/**
 * A Node preload (`--import`) for `bench/stack-cost.ts`'s `-raw` stacks: every HTTP server of the
 * process answers `GET /raw-noop` itself, before any `request` listener (no Hono, no request id, no
 * log), with the bytes bare Hono's `c.text('ok')` writes through `@hono/node-server`. Put in
 * bench:http's origin and bare peers' processes, it answers "is the gap the process or the stack?":
 * the same raw answer in both processes costs the same CPU unless the process itself (heap, flags,
 * listeners) is slower (issue 15, round 12).
 *
 * @example node --import=./bench/lib/raw-noop-preload.ts bench/lib/http-peer-server.ts
 */
import { Server, type IncomingMessage, type ServerResponse } from 'node:http'

const HEADERS = { 'content-type': 'text/plain; charset=UTF-8', 'content-length': 2 }
const emit = Server.prototype.emit

Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') {
    const [incoming, outgoing] = args as [IncomingMessage, ServerResponse]
    if (incoming.url === '/raw-noop') {
      outgoing.writeHead(200, HEADERS)
      outgoing.end('ok')
      return true
    }
  }
  return emit.apply(this, [event, ...args] as Parameters<typeof emit>)
}
