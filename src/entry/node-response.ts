/**
 * The Node origin's `ServerResponse`: it writes the request id (`X-Request-Id`) itself, in the header
 * object it is given, instead of taking it by `setHeader`.
 *
 * Why (issue 15): `@hono/node-server` answers a `Response` with one `writeHead(status, headers)`
 * where `headers` is a plain object. A header set before with `setHeader` makes Node's `writeHead`
 * take its slow path (every header of the object set again with `setHeader`, each name and value
 * validated), ~1 µs a request on a route whose whole JavaScript costs a few. Here the observer
 * (request-observer.ts → `withRequestId`) only hands the id over, and `writeHead` writes a copy of
 * the object with the id added: the same rule as before — a response that names its own
 * `X-Request-Id` (a proxied upstream's) keeps it — and the same bytes on the wire.
 *
 * @example
 * serve({ fetch: app.fetch, port, serverOptions: { ServerResponse: NodeResponseWithId } })
 */
import {
  ServerResponse,
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
} from 'node:http'
import { RESPONSE_REQUEST_ID } from '../http/request-log.ts'

type HeaderInit = OutgoingHttpHeaders | OutgoingHttpHeader[]

const NAME = 'x-request-id'

export class NodeResponseWithId<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  /** The request id to write, once; set by `withRequestId` (undefined on the prototype, below). */
  declare [RESPONSE_REQUEST_ID]: string | undefined

  override writeHead(statusCode: number, statusMessage?: string, headers?: HeaderInit): this
  override writeHead(statusCode: number, headers?: HeaderInit): this
  override writeHead(
    statusCode: number,
    reasonOrHeaders?: string | HeaderInit,
    maybeHeaders?: HeaderInit,
  ): this {
    const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined
    let headers = reason === undefined ? (reasonOrHeaders as HeaderInit | undefined) : maybeHeaders
    const id = this[RESPONSE_REQUEST_ID]
    if (id !== undefined) {
      this[RESPONSE_REQUEST_ID] = undefined
      if (!this.hasHeader(NAME)) {
        if (headers === undefined || Array.isArray(headers)) {
          // Rare (Node's implicit headers, raw header arrays): the header API, which Node merges
          // with the headers given (theirs win).
          this.setHeader('X-Request-Id', id)
        } else if (!namesRequestId(headers)) {
          // A copy: the object may be a route's constant (/verify's response headers).
          headers = { ...headers, 'X-Request-Id': id }
        }
      }
    }
    return reason === undefined
      ? super.writeHead(statusCode, headers)
      : super.writeHead(statusCode, reason, headers)
  }
}

// On the prototype rather than a field: a field is defined on every response when it is made, and
// `withRequestId` only needs `in` to find it.
NodeResponseWithId.prototype[RESPONSE_REQUEST_ID] = undefined

/** Whether a header object has an `X-Request-Id` member, in any case. */
function namesRequestId(headers: OutgoingHttpHeaders): boolean {
  for (const name in headers) {
    // 'x' or 'X' first: no lower-case copy of the other 12-letter names (`Content-Type`).
    if (
      name.length === NAME.length &&
      (name.charCodeAt(0) | 0x20) === 0x78 &&
      name.toLowerCase() === NAME
    )
      return true
  }
  return false
}
