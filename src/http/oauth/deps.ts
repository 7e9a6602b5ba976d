import type { Context } from 'hono'
import type { OAuthContext } from '../../core/oauth/context.ts'
import type { Logger } from '../log.ts'

/** What the OAuth route group needs. Built by src/entry/origin.ts. */
export interface OAuthRouteDeps {
  oauth: OAuthContext
  logger?: Logger
  /**
   * The client's IP for per-IP login rate limits. Default: none, so all requests share one per-IP
   * bucket (the per-username limit still applies). The Node entry passes the socket address
   * (`getConnInfo(c).remote.address`).
   */
  clientIp?: (c: Context) => string | undefined
  /** Counters for /metrics (src/entry/node-metrics.ts); optional so tests and the edge need none. */
  metrics?: {
    tokenIssued(grantType: string): void
    loginFailed(reason: string): void
    sessionEnded?(reason: string): void
    backchannelLogout?(outcome: string): void
  }
}
