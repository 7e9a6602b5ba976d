/**
 * What Node's HTTP server decides before the app runs, answered deliberately (docs/gateway.md,
 * "Refusals"): requests its parser refuses (oversized headers 431, broken framing, unknown methods,
 * truncated bodies 400), CONNECT (405), expectations other than 100-continue (417), request targets in
 * absolute form and content on upgrade requests (400). Each is a `RequestError` — the same codes and
 * bodies the app's `onError` renders — never a bare reset and never a 5xx.
 *
 * @example
 * installParserRefusals(server, logger)
 * createApp({ ..., requestHooks: nodeRequestHooks(metrics) })
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { MiddlewareHandler } from 'hono'
import { hasContent } from '../http/body.ts'
import { FORWARDED_METHODS } from '../http/forwarder.ts'
import { logEnabled, type Logger } from '../http/log.ts'
import { RequestError } from '../http/request-errors.ts'
import type { GatehouseEnv } from '../http/types.ts'

/** How long a refused connection may keep sending before it is dropped (RFC 9112 §9.6). */
const LINGER_MS = 1000

const REASON: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
}

/** Node's parser error codes (llhttp `HPE_*`, Node's `ERR_HTTP_*`) → our refusal. */
function refusalFor(code: string | undefined): RequestError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new RequestError('headers_too_large', 'the request headers are too large')
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new RequestError('body_too_large', 'the chunk extensions are too large')
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new RequestError('request_timeout', 'the request did not arrive in time')
    case 'HPE_INVALID_METHOD':
      return new RequestError('method_invalid', 'unknown request method')
    case 'HPE_INVALID_EOF_STATE':
      return new RequestError('body_incomplete', 'the request ended before its body')
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_STRICT':
      return new RequestError('framing_invalid', 'the body framing is invalid')
    default:
      return new RequestError('request_malformed', 'the request is malformed')
  }
}

/** The refusal as raw HTTP/1.1, for a socket no response object owns. */
function rawResponse(err: RequestError): string {
  const body = JSON.stringify({ error: err.rfcError, error_description: err.description })
  const extra = Object.entries(err.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  return (
    `HTTP/1.1 ${err.status} ${REASON[err.status] ?? ''}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
    `Cache-Control: no-store\r\n${extra}Connection: close\r\n\r\n${body}`
  )
}

/**
 * Answers once, then closes: the response first, our side half-closed, whatever the client still
 * sends read and dropped for `LINGER_MS` so a close with unread bytes (a reset) cannot clobber the
 * answer before the client reads it (RFC 9112 §9.6).
 */
function answerAndClose(socket: Duplex, response: string): void {
  socket.on('error', () => {})
  socket.end(response)
  socket.resume()
  setTimeout(() => socket.destroy(), LINGER_MS).unref()
}

/**
 * Replaces Node's default `clientError` answers (a bare status line, then a reset if the client is
 * still sending) with ours, answers CONNECT, which Node never hands to a request handler, and
 * expectations other than 100-continue, which Node answers with an empty 417.
 */
export function installParserRefusals(server: Server, logger: Logger): void {
  const answered = new WeakSet<Duplex>()
  const log = (err: RequestError) => {
    if (logEnabled(logger, 'info'))
      logger.log({ level: 'info', msg: 'request refused', status: err.status, error: err.code })
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The parser reports every later chunk of a refused connection again: answer once.
    if (answered.has(socket)) return
    answered.add(socket)
    // A response already on its way (Node's `_headerSent`, as its own default handler checks) or a
    // client that reset: nothing more can be said on this connection.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy()
      return
    }
    const refusal = refusalFor(err.code)
    log(refusal)
    answerAndClose(socket, rawResponse(refusal))
  })
  // RFC 9110 §10.1.1: an expectation other than 100-continue (which Node answers itself) is refused.
  server.on('checkExpectation', (_req, res: ServerResponse) => {
    const refusal = new RequestError('expectation_failed', 'only Expect: 100-continue is supported')
    log(refusal)
    const body = JSON.stringify({ error: refusal.rfcError, error_description: refusal.description })
    res
      .writeHead(refusal.status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      })
      .end(body)
  })
  // CONNECT asks for a tunnel; Gatehouse is no forward proxy (RFC 9110 §9.3.6).
  server.on('connect', (_req, socket: Duplex) => {
    const refusal = new RequestError('method_not_allowed', 'CONNECT is not supported', {
      Allow: FORWARDED_METHODS.join(', '),
    })
    log(refusal)
    answerAndClose(socket, rawResponse(refusal))
  })
}

/**
 * Two things Node's parser hands the app that no route should see, refused with 400:
 *
 * - a request target in absolute form (`GET http://host/path`, RFC 9112 §3.2.2): Node would take the
 *   authority — userinfo included — from the target instead of `Host`, and Gatehouse is nobody's
 *   forward proxy;
 * - content on a request that asks to upgrade the connection (`Connection: upgrade`): Gatehouse
 *   never upgrades (RFC 9110 §7.8 lets it ignore the ask), but Node's parser, once asked, stops
 *   checking the body's framing and never delivers a broken one's end, so such a request would
 *   hang until a timeout. Without content the ask is ignored and the request served.
 *
 * Reads the raw request on Node (`c.env.incoming`); a no-op elsewhere.
 */
export const nodeRequestGuard: MiddlewareHandler<GatehouseEnv> = (c, next) => {
  checkNodeRequest(c.req.raw, c.env)
  return next()
}

/**
 * `nodeRequestGuard`'s check as a plain function that throws its `RequestError`, for the app's
 * request hooks (`nodeRequestHooks` in node-server.ts): no middleware layer. `env` is the bindings
 * `@hono/node-server` passes (`{ incoming, outgoing }`); anything else is let through.
 *
 * @example createApp({ ..., requestHooks: { before: checkNodeRequest } })
 */
export function checkNodeRequest(request: Request, env: unknown): void {
  const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming === undefined) return
  if (incoming.url?.charCodeAt(0) !== 47 /* '/' */)
    throw new RequestError('request_target_invalid', 'the request target must be a path')
  const { upgrade, connection } = incoming.headers
  if (upgrade !== undefined && /\bupgrade\b/i.test(connection ?? '') && hasContent(request.headers))
    throw new RequestError(
      'upgrade_with_content',
      'a request asking to upgrade carries no content',
      {
        Connection: 'close',
      },
    )
}
