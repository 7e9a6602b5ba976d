/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection only: a proxy must not forward them,
 * nor any header the message's `Connection` field names. The forwarder drops them from requests
 * (forwarded-headers.ts) and from answers (`answerHeaders`, forwarder.ts).
 *
 * @example const named = connectionOptions(request.headers); if (isHopByHop(name, named)) continue
 */
import type { HeaderFields } from './request-headers.ts'

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/

/** The lower-case field names `Connection` lists; undefined (no allocation) when it lists none. */
export function connectionOptions(headers: Pick<HeaderFields, 'get'>): Set<string> | undefined {
  const value = headers.get('connection')
  return value === null ? undefined : connectionNames(value)
}

/**
 * The lower-case field names in one `Connection` value (RFC 9110 §7.6.1); what is not a token is
 * skipped.
 *
 * @example connectionNames('keep-alive, X-Hop') // Set { 'keep-alive', 'x-hop' }
 */
export function connectionNames(value: string): Set<string> {
  const names = new Set<string>()
  for (const name of value.split(',')) {
    const trimmed = name.trim().toLowerCase()
    if (TOKEN.test(trimmed)) names.add(trimmed)
  }
  return names
}

/** Whether the lower-case `name` is hop-by-hop: on the fixed list or named by `Connection`. */
export function isHopByHop(name: string, named: Set<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || (named !== undefined && named.has(name))
}
