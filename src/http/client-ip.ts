import type { Context } from 'hono'

/**
 * The client's address for per-IP limits, behind a known number of proxies. Each proxy appends the
 * address it received the request from to `X-Forwarded-For` (the edge sets it to `cf-connecting-ip`
 * and drops what the client sent), so counting `trustedHops` addresses back from the socket peer
 * skips exactly our own proxies; anything further left was written by the client and is never used.
 * With 0 hops (the default) the socket peer is the client: no header is trusted unless configured.
 *
 * @example clientAddress('10.0.0.7', '203.0.113.9, 198.51.100.2', 2) // '203.0.113.9'
 */
export function clientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | null,
  trustedHops: number,
): string | undefined {
  if (trustedHops === 0 || socketAddress === undefined) return socketAddress
  const chain = (forwardedFor ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '')
  chain.push(socketAddress)
  // chain[-1] is the socket peer (hop 0); each trusted hop vouches for the address left of it.
  const index = chain.length - 1 - trustedHops
  // Fewer addresses than trusted hops: the request did not come through all our proxies, so the
  // leftmost address we have is the best we know (and was written by one of our proxies).
  const address = chain[Math.max(0, index)]!
  return ADDRESS.test(address) ? address : socketAddress
}

// An IPv4 or IPv6 literal (loose: a per-IP bucket key, not a routing decision); anything else is junk.
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/

/**
 * On Workers, the client's address as Cloudflare saw it: `CF-Connecting-IP`, which Cloudflare sets on
 * every request and a client cannot override.
 *
 * @example createOriginProxy({ originUrl, clientIp: cloudflareClientIp })
 */
export const cloudflareClientIp = (c: Context): string | undefined =>
  c.req.header('cf-connecting-ip')
