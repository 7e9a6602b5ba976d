/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection only: a proxy must not forward them,
 * nor any header the message's `Connection` field names. Shared by the gateway and the origin proxy.
 *
 * @example for (const name of hopByHopNames(response.headers)) headers.delete(name)
 */

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/

/** The lower-case names to drop from `headers` before forwarding: the fixed list plus `Connection`'s. */
export function hopByHopNames(headers: Headers): Set<string> {
  const names = new Set(HOP_BY_HOP)
  for (const name of (headers.get('connection') ?? '').split(',')) {
    const trimmed = name.trim().toLowerCase()
    if (TOKEN.test(trimmed)) names.add(trimmed)
  }
  return names
}
