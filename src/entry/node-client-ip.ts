/**
 * The client's address on Node behind our own proxies, apart from origin.ts so a verification-only
 * process (no GATEHOUSE_CONFIG) does not load the OAuth origin's modules to get it.
 */
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import { clientAddress } from '../http/client-ip.ts'

/**
 * The client's address behind `trustedHops` of our proxies (client-ip.ts), not our edge or ingress:
 * per-IP login limits, and the gateway's `X-Forwarded-For`.
 *
 * @example createApp({ ..., clientIp: clientIpBehind(config.trustedProxyHops) })
 */
export function clientIpBehind(trustedHops: number) {
  return (c: Context): string | undefined => {
    let socket: string | undefined
    try {
      socket = getConnInfo(c).remote.address
    } catch {
      return undefined
    }
    return clientAddress(socket, c.req.header('x-forwarded-for') ?? null, trustedHops)
  }
}
