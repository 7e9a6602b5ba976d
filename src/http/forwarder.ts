/**
 * The one forwarding path of Gatehouse: the gateway (`/api/*` → upstream, after verification) and
 * the edge's origin proxy (minting routes → origin) are both a forwarder with a different far side.
 * It calls the next hop with `fetch` itself and builds the answer from plain fields: what
 * `hono/proxy` (which it used until round 10) adds around `fetch` — dropping hop-by-hop fields both
 * ways, and `Content-Encoding` once fetch has decoded a body — it does in one pass over the fields,
 * without `hono/proxy`'s copies (a second `Request`, a `Headers` with a `delete` per hop-by-hop name,
 * a second `Response`): on workerd each of those crosses into C++ (issue 15, round 10). What it
 * guarantees, whoever sends what:
 *
 * - Every method, target and body framing gets a deliberate answer (docs/gateway.md, "Refusals"), a
 *   thrown `RequestError` the app's `onError` renders: 405 + `Allow` for methods it does not forward,
 *   417 for an `Expect` other than `100-continue`, 400 for content on GET/HEAD or userinfo in the
 *   target, 431 for a header block the next hop could not take, 413 past the body limit, 400 for a
 *   body that ends early or breaks its framing, 408 for one that does not arrive before the deadline —
 *   never a 5xx for what the client sent.
 * - Headers: hop-by-hop and client-asserted forwarding headers are dropped and set from this hop
 *   (forwarded-headers.ts); hop-by-hop fields of the answer are dropped (`answerHeaders`).
 * - One body limit (`hono/body-limit`): the body is read whole before the upstream is called, so the
 *   upstream never sees half a request and nothing the client does to its body reaches the breaker.
 * - One deadline for the whole exchange: reading the request body, the upstream's answer and its body.
 * - The circuit breaker counts only the upstream's failures (unreachable, timed out, 502–504); while it
 *   is open, and on every failure of its own making, it throws `UpstreamError`: 503
 *   `temporarily_unavailable` + `Retry-After`. The upstream's own 502–504 answers are passed on.
 *
 * @example
 * const upstream = createForwarder({ name: 'upstream', label: 'the upstream service', timeoutMs: 30_000, maxBodyBytes: 1 << 20 })
 * app.use('/api/*', upstream.precheck, requireAuth({ verifier }))
 * app.all('/api/*', upstream.forward((c) => ({ url: `https://orders.internal${c.req.path.slice(4)}` })))
 */
import type { Context, MiddlewareHandler } from 'hono'
import { UpstreamError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { BodyTooLargeError, carriesBody, createBodyReader, hasContent } from './body.ts'
import {
  createCircuitBreaker,
  type Admission,
  type CircuitBreaker,
  type CircuitBreakerOptions,
} from './circuit-breaker.ts'
import { forwardedRequestHeaders } from './forwarded-headers.ts'
import { connectionNames, isHopByHop } from './hop-by-hop.ts'
import type { Logger } from './log.ts'
import { RequestError } from './request-errors.ts'
import { requestHeaderFields } from './request-headers.ts'
import type { GatehouseEnv } from './types.ts'
import { requestIdOf, setErrorCode } from './request-record.ts'

/** The methods forwarded; anything else is 405 (TRACE would echo credentials: RFC 9110 §9.3.8). */
export const FORWARDED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
const ALLOW = FORWARDED_METHODS.join(', ')
const FORWARDED = new Set(FORWARDED_METHODS)

/**
 * Request line plus forwarded header block must fit in this: Node's HTTP parser (the origin's)
 * refuses more than 16 KiB by cutting the connection, which would count against the breaker; the
 * remaining 1 KiB is for what the next hop's fetch adds (Host, Content-Length, User-Agent, …).
 */
export const MAX_FORWARDED_HEAD_BYTES = 15 * 1024

/** Upstream response bodies of at most this declared length are read whole and sent as bytes. */
const BUFFER_MAX_BYTES = 64 * 1024

export interface ForwarderOptions {
  /** Names the far side in error codes: `origin` gives `origin_timeout`, `origin_circuit_open`, … */
  name: 'upstream' | 'origin'
  /** Names it in error descriptions, e.g. "the authorization server". */
  label: string
  /** Deadline for the whole exchange, request and response bodies included. 1–300,000 ms. */
  timeoutMs: number
  /** Request bodies above this are refused with 413. */
  maxBodyBytes: number
  /** Budget for the request line and forwarded headers. Default `MAX_FORWARDED_HEAD_BYTES`. */
  maxHeadBytes?: number
  /** Breaker thresholds; the probe lease defaults to the deadline plus one second. */
  breaker?: Omit<CircuitBreakerOptions, 'now'>
  /**
   * How the next hop is called. Default `globalThis.fetch`; the Node origin passes its own client
   * (src/entry/node-upstream-fetch.ts); tests inject one.
   */
  fetch?: UpstreamFetch
  /** Milliseconds since the epoch, for the breaker. Default `Date.now`. */
  now?: Clock
  logger?: Logger
  /** The client's address as this hop knows it, for `X-Forwarded-For`. Default: not sent. */
  clientIp?: (c: Context<GatehouseEnv>) => string | undefined
  /** Lower-case request header names never forwarded, beyond hop-by-hop and forwarding ones. */
  dropHeader?: (name: string) => boolean
}

/** What the forwarder hands the next hop's client: a subset of fetch's `RequestInit`. */
export interface UpstreamInit {
  method: string
  headers: Record<string, string> | [string, string][]
  body: Uint8Array<ArrayBuffer> | null
  redirect: 'manual'
  signal: AbortSignal
}

/**
 * What the forwarder reads of the next hop's answer: a subset of fetch's `Response`, so `fetch`
 * itself is an `UpstreamFetch`. `headers` in `Headers`' iteration form (lower-case names, one pair
 * per name with repeated fields joined with ", ", but one pair per `Set-Cookie`); `decoded: false`
 * from a client that passes a `Content-Encoding` body on as it came (fetch decodes it, and its
 * answer has no such member).
 */
export interface UpstreamAnswer {
  readonly status: number
  readonly statusText: string
  readonly headers: Iterable<[string, string]>
  readonly body: ReadableStream<Uint8Array> | null
  readonly decoded?: boolean
  arrayBuffer(): Promise<ArrayBuffer>
}

/** Calls the next hop; rejects when it cannot be reached or `init.signal` aborts. */
export type UpstreamFetch = (url: string, init: UpstreamInit) => Promise<UpstreamAnswer>

/** Where one request goes: the absolute URL, and headers to set on it (identity, traceparent). */
export interface ForwardRoute {
  url: string
  headers?: readonly (readonly [string, string])[]
}

export interface Forwarder {
  /** Refusals that need no body and no identity: mount before authentication. */
  precheck: MiddlewareHandler<GatehouseEnv>
  /** The handler that forwards each request to `route(c)`. */
  forward(
    route: (c: Context<GatehouseEnv>) => ForwardRoute,
  ): (c: Context<GatehouseEnv>) => Promise<Response>
  readonly breaker: CircuitBreaker
}

const TIMED_OUT = Symbol('timed out')

/**
 * Builds a forwarder; options are checked here, once.
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const { name, label, timeoutMs, maxBodyBytes, logger } = options
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 300_000)
    throw new TypeError('createForwarder: timeoutMs must be an integer between 1 and 300000')
  const maxHeadBytes = options.maxHeadBytes ?? MAX_FORWARDED_HEAD_BYTES
  const readBody = createBodyReader(maxBodyBytes)
  const breaker = createCircuitBreaker({
    probeLeaseSeconds: Math.ceil(timeoutMs / 1000) + 1,
    ...options.breaker,
    ...(options.now === undefined ? {} : { now: options.now }),
  })

  // RFC 6749 §4.1.2.1 `temporarily_unavailable`, RFC 9110 §10.2.3 `Retry-After`: a 503 from onError.
  const unavailable = (what: Failure, retryAfterSeconds: number): UpstreamError =>
    new UpstreamError(`${name}_${what}`, describe(label, what), retryAfterSeconds)
  const record = (admission: Admission, ok: boolean) => {
    const before = breaker.state
    breaker.record(admission, ok)
    if (before !== 'open' && breaker.state === 'open')
      logger?.log({ level: 'warn', msg: 'circuit breaker open', breaker: name })
  }

  const precheck: MiddlewareHandler<GatehouseEnv> = async (c, next) => {
    const method = c.req.method
    if (!FORWARDED.has(method))
      throw new RequestError('method_not_allowed', `${method} is not forwarded`, { Allow: ALLOW })
    // On Node the parsed fields, not node-server's `Headers` (request-headers.ts).
    const headers = requestHeaderFields(c.req.raw)
    const expect = headers.get('expect')
    // RFC 9110 §10.1.1: 100-continue is answered by this hop's server; nothing else is known.
    if (expect !== null && expect.trim().toLowerCase() !== '100-continue')
      throw new RequestError('expectation_failed', 'only Expect: 100-continue is supported')
    // RFC 9110 §9.3.1: content in a GET has no meaning and is a request-smuggling vector.
    if ((method === 'GET' || method === 'HEAD') && hasContent(headers))
      throw new RequestError('body_not_allowed', `a ${method} request carries no content`)
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error (Node's absolute-form passes it on).
    if (authority(c.req.url).includes('@'))
      throw new RequestError('request_target_invalid', 'the request target has userinfo')
    return next()
  }

  const forward =
    (route: (c: Context<GatehouseEnv>) => ForwardRoute) =>
    async (c: Context<GatehouseEnv>): Promise<Response> => {
      const request = c.req.raw
      const method = request.method
      // Before any timer: the route may throw (a target it cannot map, a claim that is no header).
      const { url, headers: extra } = route(c)
      const incoming = c.req.url
      const fields = requestHeaderFields(request)
      const { headers, bytes } = forwardedRequestHeaders(
        fields,
        {
          clientIp: options.clientIp?.(c),
          proto: incoming.slice(0, incoming.indexOf(':')),
          host: authority(incoming),
          requestId: requestIdOf(c),
        },
        extra,
        options.dropHeader,
      )
      // Request line: method, target (at most the URL), "HTTP/1.1" and separators.
      if (bytes + method.length + url.length + 12 > maxHeadBytes)
        throw new RequestError('headers_too_large', 'the request headers are too large to forward')

      const exchange = startExchange(timeoutMs, request.signal)
      let handedOff = false
      try {
        let body: Uint8Array<ArrayBuffer> | null = null
        if (carriesBody(request, fields)) {
          const reading = readBody(c).then(
            (bytes) => ({ bytes }),
            (error: unknown) => ({ error }),
          )
          const read = await Promise.race([reading, exchange.expired()])
          if (read === TIMED_OUT) {
            // RFC 9110 §15.5.9: the client was too slow; close so it cannot finish the old body.
            throw new RequestError('body_timeout', 'the request body did not arrive in time', {
              Connection: 'close',
            })
          }
          if ('error' in read) {
            if (read.error instanceof BodyTooLargeError)
              throw new RequestError('body_too_large', 'the request body is too large')
            throw exchange.clientGone
              ? clientClosed()
              : new RequestError('body_incomplete', 'the request body ended early or is malformed')
          }
          body = read.bytes
        }

        const admission = breaker.admit()
        if (!admission.allowed) throw unavailable('circuit_open', admission.retryAfterSeconds)
        let response: UpstreamAnswer
        try {
          // Redirects are returned, never followed: following one would send identity elsewhere.
          // The URL and an init, not a `Request`: fetch builds its own `Request` from what it is
          // given (undici and workerd alike, as the Fetch standard says), so a `Request` built here
          // would be built twice (issue 15, round 10).
          response = await (options.fetch ?? fetch)(url, {
            method,
            headers: headerInit(headers),
            body,
            redirect: 'manual',
            signal: exchange.signal,
          })
        } catch {
          if (exchange.clientGone) {
            // Says nothing about the upstream: a probe slot is handed back, nothing is counted.
            breaker.release(admission)
            throw clientClosed()
          }
          record(admission, false)
          // Logged by onError (code, never the cause's message, which may quote the URL).
          throw unavailable(exchange.timedOut ? 'timeout' : 'unavailable', 1)
        }
        // 502–504 from the upstream (or its load balancer) mean it cannot serve: counted, passed on.
        // Any other status, 4xx included, shows an upstream that answers.
        const failed = response.status >= 502 && response.status <= 504
        record(admission, !failed)
        if (failed) {
          setErrorCode(c, `${name}_unhealthy`)
          logger?.log({
            level: 'warn',
            msg: 'request failed',
            requestId: requestIdOf(c),
            code: `${name}_unhealthy`,
            status: response.status,
          })
        }
        // The answer is built from plain fields: the status, the reason, the end-to-end headers
        // (answerHeaders) and the body read from the client's own answer. With `fetch` on Node that
        // answer is @hono/node-server's light `Response`: reading a body through a copy of it, or
        // passing one as a `Response`'s init, builds a full undici `Response` behind it (round 6,
        // issue 15).
        const { headers: answerFields, contentLength } = answerHeaders(
          response.headers,
          response.decoded !== false,
        )
        const init = {
          status: response.status,
          statusText: response.statusText,
          headers: answerFields,
        }
        if (response.body === null || method === 'HEAD') return new Response(null, init)
        if (isSmall(contentLength)) {
          // Read under the deadline and sent as bytes: @hono/node-server then writes head and body
          // in one write (`npm run bench:http`, gateway row). A `Uint8Array`, not the `ArrayBuffer`:
          // node-server keeps only the former (and strings, streams, blobs) in its light response.
          try {
            return new Response(new Uint8Array(await response.arrayBuffer()), init)
          } catch {
            if (exchange.clientGone) throw clientClosed()
            throw unavailable(exchange.timedOut ? 'timeout' : 'unavailable', 1)
          }
        }
        handedOff = true
        return new Response(untilDone(response.body, exchange.end), init)
      } finally {
        if (!handedOff) exchange.end()
      }
    }

  return { precheck, forward, breaker }
}

type Failure = 'circuit_open' | 'timeout' | 'unavailable'

function describe(label: string, what: Failure): string {
  if (what === 'timeout') return `${label} did not answer in time; retry later`
  if (what === 'unavailable') return `${label} could not be reached; retry later`
  return `${label} is temporarily unavailable; retry later`
}

/** Nobody reads this answer; it exists for the access log (`client_closed`, never a 5xx). */
const clientClosed = () => new RequestError('client_closed', 'the client closed the request')

/** `host[:port]` of an absolute URL, userinfo included if present. */
function authority(url: string): string {
  const start = url.indexOf('//') + 2
  const end = url.indexOf('/', start)
  return url.slice(start, end === -1 ? undefined : end)
}

/**
 * The forwarded fields as a `Request`'s header init: an object of name → value when every name is
 * unique (always, but for a repeated `Set-Cookie` a client sent), else the pairs. workerd reads an
 * object's properties in C++, but takes a sequence of pairs through the iterator protocol, pair by
 * pair: ~22 µs against ~8 µs per `Request` of ten fields (issue 15, round 10). A field named
 * `__proto__` also takes the pairs: undici's record conversion assigns it to a plain object, where it
 * sets the prototype instead (the field would be lost).
 */
export function headerInit(
  fields: [string, string][],
): Record<string, string> | [string, string][] {
  const record = Object.create(null) as Record<string, string>
  const seen = new Set<string>()
  for (const [name, value] of fields) {
    const lower = name.toLowerCase()
    if (seen.has(lower) || lower === '__proto__') return fields
    seen.add(lower)
    record[name] = value
  }
  return record
}

/**
 * The next hop's answer headers as sent on: without hop-by-hop fields and those its `Connection`
 * names (RFC 9110 §7.6.1), and without `Content-Encoding` and `Content-Length` when the client
 * decoded the body (`decoded`, fetch: what `hono/proxy` drops, plus `Proxy-Connection`); a body
 * passed on as it came keeps both. `contentLength` is the kept `Content-Length`. One pass over the
 * fields instead of a copy and a `delete` per hop-by-hop name: on workerd each `Headers` call
 * crosses into C++ (issue 15, round 10).
 *
 * @example answerHeaders(response.headers, true) // { headers: { 'content-type': 'text/plain' }, contentLength: '2' }
 */
export function answerHeaders(
  source: Iterable<[string, string]>,
  decoded = true,
): {
  headers: Record<string, string> | [string, string][]
  contentLength: string | null
} {
  const fields: [string, string][] = []
  let connection: string | null = null
  let encoded = false
  for (const field of source) {
    const name = field[0]
    if (name === 'connection') connection = field[1]
    else if (name === 'content-encoding') encoded = true
    fields.push(field)
  }
  // The coding fields describe a body the client decoded no longer.
  const dropCoding = encoded && decoded
  const named = connection === null ? undefined : connectionNames(connection)
  const kept: [string, string][] = []
  let contentLength: string | null = null
  for (const field of fields) {
    const name = field[0]
    if (isHopByHop(name, named)) continue
    if (name === 'content-encoding' || name === 'content-length') {
      if (dropCoding) continue
      if (name === 'content-length') contentLength = field[1]
    }
    kept.push(field)
  }
  return { headers: headerInit(kept), contentLength }
}

function isSmall(contentLength: string | null): boolean {
  return (
    contentLength !== null && /^\d{1,9}$/.test(contentLength) && +contentLength <= BUFFER_MAX_BYTES
  )
}

interface Exchange {
  readonly signal: AbortSignal
  readonly timedOut: boolean
  readonly clientGone: boolean
  /** Resolves `TIMED_OUT` at the deadline (made on first use). */
  expired(): Promise<typeof TIMED_OUT>
  /** Stops the deadline and the client watch; idempotent. */
  end(): void
}

/** One deadline and one abort for the whole exchange: the timer, or the client going away. */
function startExchange(timeoutMs: number, clientSignal: AbortSignal | undefined): Exchange {
  const controller = new AbortController()
  let timedOut = false
  let clientGone = false
  let expire: ((v: typeof TIMED_OUT) => void) | undefined
  let expired: Promise<typeof TIMED_OUT> | undefined
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
    expire?.(TIMED_OUT)
  }, timeoutMs)
  const onClientAbort = () => {
    clientGone = true
    controller.abort()
  }
  clientSignal?.addEventListener('abort', onClientAbort, { once: true })
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut
    },
    get clientGone() {
      return clientGone
    },
    expired() {
      expired ??= timedOut
        ? Promise.resolve(TIMED_OUT)
        : new Promise<typeof TIMED_OUT>((resolve) => (expire = resolve))
      return expired
    },
    end() {
      clearTimeout(timer)
      clientSignal?.removeEventListener('abort', onClientAbort)
    },
  }
}

/** Passes the body through and calls `done` once it ended, failed or was cancelled. */
function untilDone(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: end } = await reader.read()
        if (end) {
          done()
          controller.close()
        } else {
          controller.enqueue(value)
        }
      } catch (err) {
        done()
        controller.error(err)
      }
    },
    cancel(reason) {
      done()
      return reader.cancel(reason)
    },
  })
}
