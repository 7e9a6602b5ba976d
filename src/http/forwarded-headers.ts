/**
 * The request headers the forwarder sends on (gateway and origin proxy alike): the caller's, minus
 *
 * - hop-by-hop headers and those `Connection` names (RFC 9110 §7.6.1);
 * - what this hop handled or the next hop's fetch sets: `Host`, `Content-Length` (the body is framed
 *   again), `Accept-Encoding` (fetch negotiates and decodes), `Expect` (a `100-continue` was answered
 *   on this hop, RFC 9110 §10.1.1), `X-Request-Id` (ours replaces it);
 * - every header by which a client can claim an address, host or scheme (`X-Forwarded-*`,
 *   `Forwarded`, `X-Real-IP`, `CF-Connecting-IP`, …): an upstream trusting them would be lied to;
 * - whatever the caller's `drop` names (the gateway: `Authorization`, `X-Gatehouse-*`);
 *
 * plus what this hop knows first-hand: `X-Forwarded-For` (the client address as this hop determined
 * it, never a header the client wrote), `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Request-Id` and
 * `Via` (RFC 9110 §7.6.3: a gateway sends it on inbound requests).
 *
 * @example
 * const { headers, bytes } = forwardedRequestHeaders(requestHeaderFields(request), hop, [['X-Gatehouse-Subject', sub]])
 */
import { connectionOptions, isHopByHop } from './hop-by-hop.ts'
import type { HeaderFields } from './request-headers.ts'

/** What the forwarding hop knows about the request it received. */
export interface Hop {
  /** The client's address as this hop determined it (socket peer, `cf-connecting-ip`, …). */
  clientIp: string | undefined
  /** `http` or `https`: how the client reached this hop. */
  proto: string
  /** The authority the client addressed (`Host`). */
  host: string
  /** Undefined where no request-id middleware runs (a forwarder mounted on its own). */
  requestId: string | undefined
}

const THIS_HOP = new Set(['host', 'content-length', 'accept-encoding', 'expect', 'x-request-id'])

// Who the client is and how it connected: only a hop may say so, never the client itself.
const CLIENT_ASSERTED = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'cf-connecting-ipv6',
])

// An IPv4 or IPv6 literal; anything else is not sent as an address.
const IP = /^[0-9A-Fa-f:.]{2,45}$/
const VIA = '1.1 gatehouse'

/**
 * Builds the forwarded headers in one pass, as name/value pairs for the next hop's `Request` (a
 * `Headers` built here would be validated and copied again by it); `bytes` is the size of the header
 * block as sent (`name: value\r\n` per field), for the caller's 431 budget. `incoming`: the
 * request's `Headers`, or on Node the parsed fields with the same answers (`requestHeaderFields`).
 */
export function forwardedRequestHeaders(
  incoming: HeaderFields,
  hop: Hop,
  extra: readonly (readonly [string, string])[] = [],
  drop?: (name: string) => boolean,
): { headers: [string, string][]; bytes: number } {
  const named = connectionOptions(incoming)
  const headers: [string, string][] = []
  let bytes = 0
  let via = VIA
  for (const [name, value] of incoming) {
    if (isHopByHop(name, named) || THIS_HOP.has(name) || CLIENT_ASSERTED.has(name)) continue
    if (drop?.(name)) continue
    if (name === 'via') {
      via = `${value}, ${VIA}`
      continue
    }
    headers.push([name, value])
    bytes += name.length + value.length + 4
  }
  // None of these names is left among the kept ones (each is dropped above).
  const add = (name: string, value: string) => {
    headers.push([name, value])
    bytes += name.length + value.length + 4
  }
  if (hop.clientIp !== undefined && IP.test(hop.clientIp)) add('X-Forwarded-For', hop.clientIp)
  add('X-Forwarded-Proto', hop.proto)
  add('X-Forwarded-Host', hop.host)
  if (hop.requestId !== undefined) add('X-Request-Id', hop.requestId)
  add('Via', via)
  for (const [name, value] of extra) {
    // Set, not appended: the caller's field replaces any of the same name (case-insensitive).
    const lower = name.toLowerCase()
    for (let i = headers.length - 1; i >= 0; i--) {
      const [kept, keptValue] = headers[i] as [string, string]
      if (kept.length !== lower.length || (kept !== lower && kept.toLowerCase() !== lower)) continue
      headers.splice(i, 1)
      bytes -= kept.length + keptValue.length + 4
    }
    add(name, value)
  }
  return { headers, bytes }
}
