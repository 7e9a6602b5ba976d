/**
 * Requests refused for how they were sent — method, target, framing, size, pace — rather than for what
 * they ask: the forwarder's refusals and those of Node's HTTP parser (docs/gateway.md, "Refusals").
 * Each is a `GatehouseError` with a stable code, its status and `invalid_request` (RFC 6749 §5.2), so
 * the app's one `onError` renders it; never a 5xx.
 *
 * @example throw new RequestError('method_not_allowed', 'TRACE is not forwarded', { Allow: 'GET' })
 */
import { GatehouseError } from '../core/errors.ts'

const STATUS = {
  /** RFC 9110 §15.5.6: with `Allow`. */
  method_not_allowed: 405,
  /** A method Node's parser does not know. */
  method_invalid: 400,
  /** RFC 9110 §15.5.18: an `Expect` other than 100-continue. */
  expectation_failed: 417,
  /** RFC 9110 §9.3.1: content on GET or HEAD. */
  body_not_allowed: 400,
  /** Absolute form, userinfo, an encoded route prefix. */
  request_target_invalid: 400,
  /** Content on a request asking to upgrade the connection (Node's parser cannot frame it). */
  upgrade_with_content: 400,
  /** RFC 6585 §5. */
  headers_too_large: 431,
  /** RFC 9110 §15.5.14. */
  body_too_large: 413,
  /** Shorter than its `Content-Length`, broken chunking, a body stream that failed. */
  body_incomplete: 400,
  /** Content-Length and Transfer-Encoding together, bad lengths (Node's parser). */
  framing_invalid: 400,
  /** RFC 9110 §15.5.9: the body did not arrive before the deadline. */
  body_timeout: 408,
  /** The request did not arrive whole before Node's request timeout. */
  request_timeout: 408,
  /** Anything else Node's parser refuses (NUL, bad header names, …). */
  request_malformed: 400,
  /** The client went away: nobody reads the answer, the access log does. */
  client_closed: 400,
} as const

export type RequestErrorCode = keyof typeof STATUS

export class RequestError extends GatehouseError {
  override readonly name: string = 'RequestError'
  declare readonly code: RequestErrorCode
  declare readonly status: (typeof STATUS)[RequestErrorCode]

  constructor(code: RequestErrorCode, description: string, headers?: Record<string, string>) {
    super({
      code,
      description,
      status: STATUS[code],
      rfcError: 'invalid_request',
      ...(headers === undefined ? {} : { headers }),
    })
  }
}
