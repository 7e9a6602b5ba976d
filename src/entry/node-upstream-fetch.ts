/**
 * The Node origin's client for the gateway's upstream: undici's `request` on a keep-alive `Agent`
 * of its own, instead of `fetch`, behind the forwarder's `UpstreamFetch` (src/http/forwarder.ts).
 *
 * Why (issue 15 item 4): Node's `fetch` is undici's implementation of the Fetch standard — a
 * `Request`, a `Headers` per side, a WHATWG stream per body, a `Response` and a chain of promises per
 * call. `request` is the same HTTP/1.1 client without those objects. Client and server in one
 * process, one 250-byte JSON answer (bench/.work ad hoc, 10 concurrent, 2026-12-07, load ~8):
 * `fetch` 275–450 µs of CPU a call, `request` 85–180 µs, `node:http` 170–210 µs. The forwarder
 * itself does not change: the same refusals, headers, deadline, breaker and answers.
 *
 * What differs from `fetch`, deliberately:
 *
 * - The answer's body is passed on as it came: no `Accept-Encoding` is added to the request (the
 *   forwarder drops the client's, forwarded-headers.ts), and an upstream that encodes anyway keeps
 *   its `Content-Encoding` and `Content-Length` on the way out (`decoded: false`), where `fetch`
 *   would have decoded the body (a decompression bomb is then the client's to open, not ours).
 * - No `User-Agent`, `Accept`, `Accept-Language` or `Sec-Fetch-Mode` of its own: the upstream sees
 *   the client's end-to-end fields and the forwarding ones (RFC 9110 §7.6).
 * - The status's reason phrase is not read (`statusText` is ''); Node writes its own for the code,
 *   as `@hono/node-server` does for every answer.
 *
 * The same as `fetch`: redirects are returned, never followed; the deadline and the client's going
 * away abort through `init.signal`, during the call and while the body is read; a connection that
 * fails rejects (the forwarder answers 503 and counts it for the breaker).
 *
 * @example
 * const upstream = createNodeUpstreamFetch()
 * createApp({ ..., fetch: upstream.fetch }) // and `await upstream.close()` when the server stops
 */
// The global `ReadableStream` (the DOM lib's type has no `from`).
import { ReadableStream as WebStream } from 'node:stream/web'
// By path, not `from 'undici'`: its index also loads its fetch, WebSocket, EventSource, cache and
// mocks, ~9 MiB more RSS in the origin (+27 against +18 MiB at load, 2026-12-07), and the origin's
// peak RSS is a target (issue 15 item 6). Types: undici-modules.d.ts.
import Agent from 'undici/lib/dispatcher/agent.js'
import request from 'undici/lib/api/api-request.js'
import type { UpstreamAnswer, UpstreamFetch } from '../http/forwarder.ts'

/** Statuses whose answers have no content (RFC 9110 §6.4.1), which fetch gives a null body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])

export interface NodeUpstreamClient {
  fetch: UpstreamFetch
  /** Closes the idle keep-alive connections; calls after it reject. */
  close(): Promise<void>
}

/**
 * A client with its own connection pool (keep-alive, no per-origin limit, as `fetch`'s global one).
 *
 * @example const { fetch } = createNodeUpstreamFetch()
 */
export function createNodeUpstreamFetch(): NodeUpstreamClient {
  const agent = new Agent()
  const fetch: UpstreamFetch = async (url, init) => {
    // The origin and the path as undici's own `request(url, …)` takes them from a URL.
    const target = new URL(url)
    const answer = await request.call(agent, {
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: init.method as never,
      headers: init.headers,
      body: init.body,
      signal: init.signal,
    })
    const { statusCode } = answer
    const noContent = init.method === 'HEAD' || NULL_BODY_STATUS.has(statusCode)
    // A body nobody reads still holds its connection: read to the end and dropped.
    if (noContent) await answer.body.dump()
    return {
      status: statusCode,
      statusText: '',
      headers: headerPairs(answer.headers),
      decoded: false,
      // Pulled only when read (the forwarder streams a long answer): `Readable.toWeb` would start
      // reading the body at once into a queue of its own, and pause it once 64 KiB sat there
      // unread, so a 64 KiB answer read with `arrayBuffer` (the forwarder's short path) stalled.
      body: noContent
        ? null
        : (WebStream.from<Uint8Array>(answer.body) as unknown as ReadableStream<Uint8Array>),
      arrayBuffer: () => answer.body.arrayBuffer(),
    } satisfies UpstreamAnswer
  }
  return { fetch, close: () => agent.close() }
}

/**
 * undici's header object as `Headers` iterates: one pair per field name (repeated fields joined
 * with ", ", RFC 9110 §5.3), one pair per `Set-Cookie` (RFC 6265 §3: never joined). Names are
 * lower-case already.
 *
 * @example [...headerPairs({ 'set-cookie': ['a=1', 'b=2'], vary: ['a', 'b'] })] // [['set-cookie','a=1'],['set-cookie','b=2'],['vary','a, b']]
 */
export function* headerPairs(
  headers: Record<string, string | string[] | undefined>,
): Generator<[string, string]> {
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    if (typeof value === 'string') yield [name, value]
    else if (name === 'set-cookie') for (const cookie of value) yield [name, cookie]
    else yield [name, value.join(', ')]
  }
}
