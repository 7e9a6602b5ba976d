/**
 * Waiting for acknowledged revocations to be enforced, without a real-time threshold. What a loaded
 * machine cannot break is the mechanism behind the bound: once a server reports (`/revocation/status`
 * `lastSyncAt`) a successful revocation sync that *started* after a revocation was acknowledged, that
 * token is refused. A 200 after such a sync is a lost revocation and fails at once, however fast or
 * slow the machine is. How long enforcement took is measured and returned for reporting; only the
 * deadline for it to happen at all is a (generous) timeout.
 *
 * Clocks: `ackedAtWall` is the test's `Date.now()` when the acknowledgement arrived; `lastSyncAt` is
 * the server's `Date.now()` when its sync started. Same machine, same wall clock; workerd's clock
 * stands still between I/O and so only lags, which keeps "started after" true when it says so.
 */
import { verifyToken } from './oauth-http.ts'
import { until } from './poll.ts'

export interface AcknowledgedRevocation {
  token: string
  /** Named in failure messages (a `jti`, never the token). */
  jti?: string
  /** `Date.now()` when the revocation was acknowledged (e.g. /revoke answered 200). */
  ackedAtWall: number
  /** `performance.now()` at the same moment, to measure the delay; default: when waiting began. */
  ackedAt?: number
}

export interface RevocationWaitOptions {
  /** Deadline for every token to be refused. Default 30 s: a timeout, not the bound. */
  timeoutMs?: number
  /** Delays are measured from the later of the acknowledgement and this `performance.now()`. */
  from?: number
  /** Tokens verified at once per round. Default 16. */
  batch?: number
}

/** Thrown by `waitUntilRevoked`: which revocations were lost, or still accepted at the deadline. */
export class RevocationsNotEnforced extends Error {
  override readonly name = 'RevocationsNotEnforced'
  /** 'lost': accepted after a sync that started after the acknowledgement (a product bug). */
  readonly kind: 'lost' | 'timeout'
  readonly revocations: AcknowledgedRevocation[]

  constructor(message: string, kind: 'lost' | 'timeout', revocations: AcknowledgedRevocation[]) {
    super(message)
    this.kind = kind
    this.revocations = revocations
  }
}

export interface RevocationServerStatus {
  lastSyncAt: number | null
  lastError: string | null
  stale: boolean
}

/** The server's `/revocation/status` (an edge isolate or the origin). */
export async function revocationStatus(base: string): Promise<RevocationServerStatus> {
  const response = await fetch(`${base}/revocation/status`, { signal: AbortSignal.timeout(10_000) })
  return (await response.json()) as RevocationServerStatus
}

/**
 * Resolves the longest delay (ms, from acknowledgement or `from` to the start of the first refused
 * /verify) once `base` refuses every token. Throws `RevocationsNotEnforced` ('lost') when a token is
 * accepted after a sync that started after its acknowledgement, or ('timeout') when some are still
 * accepted at the deadline with no such sync reported (L2 unreachable from the server, or too slow).
 *
 * @example
 * const ackedAtWall = Date.now() // right after /revoke answered 200
 * await waitUntilRevoked(edge.url, [{ token, ackedAtWall }])
 */
export async function waitUntilRevoked(
  base: string,
  revocations: readonly AcknowledgedRevocation[],
  options: RevocationWaitOptions = {},
): Promise<number> {
  const began = performance.now()
  const from = options.from ?? -Infinity
  const batchSize = options.batch ?? 16
  const pending = new Set(revocations)
  const last = new Map<AcknowledgedRevocation, string>()
  const lost: AcknowledgedRevocation[] = []
  let status: RevocationServerStatus | undefined
  let longest = 0
  const describe = (r: AcknowledgedRevocation) =>
    `${r.jti ?? 'token'} acknowledged at ${r.ackedAtWall} (last answer ${last.get(r) ?? 'none'})`
  await until(
    async () => {
      // Read before the verifications: a sync it reports had finished before any of them started.
      status = await revocationStatus(base)
      const syncedAt = status.lastSyncAt
      const all = [...pending]
      for (let i = 0; i < all.length; i += batchSize) {
        const slice = all.slice(i, i + batchSize)
        const outcomes = await Promise.all(
          slice.map(async (r) => (await verifyToken(base, r.token)).outcome),
        )
        slice.forEach((r, k) => {
          const outcome = outcomes[k]!
          last.set(r, `${outcome.status} ${outcome.error ?? ''}`.trim())
          if (outcome.status === 401) {
            pending.delete(r)
            longest = Math.max(longest, outcome.at - Math.max(r.ackedAt ?? began, from))
          } else if (outcome.status === 200 && syncedAt !== null && syncedAt > r.ackedAtWall) {
            pending.delete(r)
            lost.push(r)
          }
        })
      }
      return pending.size === 0
    },
    options.timeoutMs ?? 30_000,
    'acknowledged revocations refused',
    100,
  ).catch(() => {
    const late = [...pending]
    throw new RevocationsNotEnforced(
      `${late.length} acknowledged revocations still accepted after ${options.timeoutMs ?? 30_000} ms ` +
        `(${late.slice(0, 5).map(describe).join('; ')}); status ${JSON.stringify(status)}`,
      'timeout',
      late,
    )
  })
  if (lost.length > 0)
    throw new RevocationsNotEnforced(
      `revocation lost: ${lost.length} still accepted after a sync from ${status?.lastSyncAt} that ` +
        `started after their acknowledgement (${lost.slice(0, 5).map(describe).join('; ')}); ` +
        `status ${JSON.stringify(status)}`,
      'lost',
      lost,
    )
  return longest
}
