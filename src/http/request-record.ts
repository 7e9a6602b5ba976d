/**
 * What the access log and metrics learn about one request while the app answers it: its request id
 * (read by error logs, the forwarder, policy decisions) and, for a failed request, its stable error
 * code and the route that failed it (written by whoever answers with an error). The record is made by
 * `observeRequests` (request-observer.ts) outside Hono's middleware chain, so it is kept beside the
 * request — on the request object every `Context` of that request shares (`c.req.raw`), under a
 * symbol of this module — rather than in a context variable, which only a middleware could have set.
 * A property rather than a `WeakMap` (round 5, issue 15): a `WeakMap` entry per request is an
 * ephemeron the scavenger must trace and a write barrier per set, ~0.5 µs a request on Node.
 */
import type { Context } from 'hono'
import { routePath } from 'hono/route'

export interface RequestRecord {
  /** A sane client `X-Request-Id` or a UUID (request-log.ts). */
  readonly id: string
  /** Stable error code of a failed request, for the access log (never a description). */
  errorCode: string | undefined
  /** Hono's matched pattern where the error was answered, for the metrics' `route` label. */
  errorRoute: string | undefined
  /**
   * On Node, the parsed request's header fields as `IncomingMessage.rawHeaders` lists them (name,
   * value, name, value…): `requestHeader` (request-headers.ts) reads them instead of the `Request`'s
   * `Headers`. Undefined elsewhere.
   */
  readonly rawHeaders: readonly string[] | undefined
}

const RECORD = Symbol('gatehouse.requestRecord')

/** A request that may carry its record (any `Request`: node-server's, workerd's, `app.request()`'s). */
interface RecordedRequest {
  [RECORD]?: RequestRecord
}

/**
 * Starts the record of `request` (the object the app's `fetch` was called with).
 *
 * `rawHeaders`: on Node, the parsed request's (`env.incoming.rawHeaders`).
 *
 * @example const record = openRequestRecord(request, requestIdFrom(request, env), incoming?.rawHeaders)
 */
export function openRequestRecord(
  request: Request,
  id: string,
  rawHeaders?: readonly string[],
): RequestRecord {
  const record: RequestRecord = { id, errorCode: undefined, errorRoute: undefined, rawHeaders }
  ;(request as RecordedRequest)[RECORD] = record
  return record
}

/**
 * The record of `request`, if `observeRequests` (or `requestIdMiddleware`) opened one.
 *
 * @example const raw = recordOf(c.req.raw)?.rawHeaders
 */
export function recordOf(request: Request): RequestRecord | undefined {
  return (request as RecordedRequest)[RECORD]
}

/**
 * The request's id: from its record, or from the `requestId` context variable in stacks composed by
 * hand (`requestIdMiddleware`); undefined outside both.
 *
 * @example logger.log({ level: 'warn', msg: 'request failed', requestId: requestIdOf(c) })
 */
export function requestIdOf(c: Context): string | undefined {
  return (c.req.raw as RecordedRequest)[RECORD]?.id ?? (c.get('requestId') as string | undefined)
}

/**
 * Names why this request failed, for its access log line (`error`) and its metrics route: every
 * route or middleware that answers an error itself calls this (the app's `onError` does for thrown
 * errors). Also sets the `errorCode` context variable, which hand-composed stacks read.
 *
 * @example setErrorCode(c, 'method_not_allowed'); return c.json(body, 405)
 */
export function setErrorCode(c: Context, code: string): void {
  c.set('errorCode', code)
  const record = (c.req.raw as RecordedRequest)[RECORD]
  if (record === undefined) return
  record.errorCode = code
  record.errorRoute = routePath(c)
}
