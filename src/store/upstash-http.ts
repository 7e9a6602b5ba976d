import type { Requester, UpstashRequest, UpstashResponse } from '@upstash/redis'
import { isHttpsOrLoopback } from '../core/urls.ts'
import { redisErrorText, StoreError } from './errors.ts'

export interface UpstashHttpOptions {
  /** The REST URL, e.g. `https://eu1-x.upstash.io`. Plain http only to loopback unless `allowHttp`. */
  url: string
  /** The REST token, sent only as `Authorization: Bearer`. Never appears in an error or log. */
  token: string
  /** Injected fetch (tests, Worker service bindings). Default: the global fetch. */
  fetch?: typeof fetch
  /** Per-request deadline in milliseconds. Default 5000. */
  timeoutMs?: number
  /** Allow plain http to a non-loopback host (a bridge inside a private network). Default false. */
  allowHttp?: boolean
}

/** A decoded Upstash result: what RESP2 can say, in JSON. */
export type UpstashValue = string | number | null | UpstashValue[]

export interface UpstashTransport extends Requester {
  /** POST one command at `/`; a Redis error reply becomes a `StoreError('command_failed')`. */
  command(operation: string, args: readonly (string | number)[]): Promise<UpstashValue>
}

const utf8 = new TextDecoder()

/**
 * The HTTP side of the Upstash REST protocol. What @upstash/redis serves here: the protocol's types
 * (`Requester`, `UpstashRequest`, `UpstashResponse`), and through them its whole client: this
 * transport is a `Requester`, so `new Redis(transport)` runs the package's command API over it
 * (tested against the bridge), and in tests the package's own client is the reference the bridge
 * must satisfy. What we keep our own code for is the one HTTP round trip, because the package's
 * HttpClient (1.39, read in node_modules) cannot:
 * - fail a write exactly once: even with `retry: false` it fetches a second time after a network
 *   error, so a compare-and-swap or a script that ran but whose reply was lost runs again (a refresh
 *   rotation would then report a lost race it won; a revocation would be appended twice);
 * - time out as an error: an aborted request resolves as a successful `"Aborted"` result;
 * - keep data out of errors: a failed command throws `…, command was: [keys and values]`, and a body
 *   that is not JSON is quoted whole in the error (authorization codes, token hashes into logs);
 * - take an injected `fetch` (tests, Worker service bindings): it calls the global one;
 * - refuse a malformed base64 result: it passes the undecoded text on as if it were the value;
 * - keep a sync token when a response carries none: it resets it to "" (read-your-writes lost).
 * Here a request is sent once, with a deadline, and every failure is a `StoreError` that names no
 * key, value, URL or token. Responses are asked for base64-encoded (`Upstash-Encoding: base64`, as
 * the package does by default) so any bytes survive JSON, and decoded without recursion or regular
 * expressions, so results of any size (tested at 8 MiB) cost no stack. The last sync token received
 * goes out with every request: reads see this client's own writes on Upstash's read replicas.
 *
 * @example
 * const http = createUpstashTransport({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN })
 * await http.command('ping', ['PING']) // 'PONG'
 */
export function createUpstashTransport(options: UpstashHttpOptions): UpstashTransport {
  const baseUrl = checkUrl(options.url, options.allowHttp ?? false)
  if (typeof options.token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(options.token)) {
    // The token itself is never echoed, only what is wrong with it.
    throw new TypeError('Upstash token must be 1 to 4096 visible ASCII characters')
  }
  const timeoutMs = options.timeoutMs ?? 5000
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new RangeError('timeoutMs must be an integer from 1 to 600000')
  }
  const injected = options.fetch
  // Called through a closure: a detached global fetch throws "Illegal invocation" on Workers.
  const doFetch: typeof fetch = injected ?? ((input, init) => fetch(input, init))
  const authorization = `Bearer ${options.token}`

  const transport: UpstashTransport = {
    readYourWrites: true,
    upstashSyncToken: '',

    async command(operation, args) {
      const body = await post(operation, '', args)
      if (isRecord(body) && typeof body.error === 'string') {
        throw new StoreError('command_failed', operation, redisErrorText(body.error))
      }
      if (!isRecord(body) || !('result' in body)) {
        throw new StoreError('bad_response', operation, 'no result in the response')
      }
      return decode(operation, body.result)
    },

    async request<TResult>(req: UpstashRequest): Promise<UpstashResponse<TResult>> {
      const operation = (req.path ?? []).join('/') || 'command'
      const body = await post(operation, (req.path ?? []).join('/'), req.body)
      const one = (item: unknown): UpstashResponse<TResult> => {
        if (!isRecord(item)) throw new StoreError('bad_response', operation, 'not an object')
        if (typeof item.error === 'string') return { error: redisErrorText(item.error) }
        return { result: decode(operation, item.result) as TResult }
      }
      // Pipelines answer an array of results; the package's Pipeline reads it as such.
      return (Array.isArray(body) ? body.map(one) : one(body)) as UpstashResponse<TResult>
    },
  }

  async function post(operation: string, path: string, payload: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      authorization,
      'content-type': 'application/json',
      'upstash-encoding': 'base64',
    }
    // Read-your-writes across Upstash read replicas: echo the last sync token we were given.
    if (transport.upstashSyncToken) headers['upstash-sync-token'] = transport.upstashSyncToken
    let response: Response
    try {
      response = await doFetch(path ? `${baseUrl}/${path}` : baseUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')
      throw new StoreError(
        'unavailable',
        operation,
        timedOut ? `timed out after ${timeoutMs} ms` : 'unreachable',
      )
    }
    const text = await response.text().catch(() => {
      throw new StoreError('unavailable', operation, 'response body interrupted')
    })
    const sync = response.headers.get('upstash-sync-token')
    if (sync) transport.upstashSyncToken = sync
    if (response.status === 401 || response.status === 403) {
      throw new StoreError('unauthorized', operation, `HTTP ${response.status}`)
    }
    if (response.status >= 500)
      throw new StoreError('unavailable', operation, `HTTP ${response.status}`)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new StoreError('bad_response', operation, `HTTP ${response.status}, not JSON`)
    }
    // Upstash answers a failed command with 400 and {"error": "..."}; anything else non-2xx is odd.
    const isCommandError =
      response.status === 400 && isRecord(body) && typeof body.error === 'string'
    if (!response.ok && !isCommandError) {
      throw new StoreError(
        response.status < 400 ? 'bad_response' : 'command_failed',
        operation,
        `HTTP ${response.status}`,
      )
    }
    return body
  }

  return transport
}

function checkUrl(url: unknown, allowHttp: boolean): string {
  let parsed: URL
  try {
    parsed = new URL(String(url))
  } catch {
    throw new TypeError('Upstash url is not a valid URL')
  }
  if (parsed.username || parsed.password) {
    throw new TypeError('Upstash url must not carry credentials; pass the token separately')
  }
  if (parsed.search || parsed.hash)
    throw new TypeError('Upstash url must not have a query or fragment')
  if (!isHttpsOrLoopback(parsed) && !(parsed.protocol === 'http:' && allowHttp)) {
    // The bearer token would cross the network in clear text.
    throw new TypeError(
      'Upstash url must be https (plain http only to loopback, or with allowHttp)',
    )
  }
  return parsed.href.replace(/\/+$/, '')
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Upstash-Encoding: base64 encodes every string of a result except a top-level "OK" status. "OK" is
 * never valid padded base64 (length 2), so it is also read literally when nested.
 */
function decode(operation: string, raw: unknown): UpstashValue {
  if (raw === null || typeof raw === 'number') return raw
  if (Array.isArray(raw)) return raw.map((item) => decode(operation, item))
  if (typeof raw === 'string') {
    if (raw === 'OK') return raw
    if (!isCanonicalBase64(raw)) {
      throw new StoreError('bad_response', operation, 'result is not base64')
    }
    const binary = atob(raw)
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return utf8.decode(bytes)
  }
  throw new StoreError('bad_response', operation, `unexpected ${typeof raw} in result`)
}

/**
 * Padded base64 of RFC 4648 §4, checked in one pass over the characters: a regular expression with
 * a repeated group overflows the stack on results of a few MiB (V8 backtracks recursively).
 */
function isCanonicalBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const end = text.length - padding
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i)
    const ok =
      (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47
    if (!ok) return false
  }
  return true
}
