/**
 * Steady mixed traffic against an edge for chaos tests — verify, client_credentials, refresh-token
 * rotation, revoke — recorded outcome by outcome, with the bookkeeping that proves integrity
 * afterwards: every refresh-token family's chain (a token answered twice with different successors is
 * a fork; `invalid_grant` on a token we hold is a lost family), every access token's `jti` (issued
 * twice is a bug), every revocation the service acknowledged (it must be enforced later; a watcher
 * loop notes when the edge first refuses each one, so the delay can be measured).
 */
import {
  clientCredentials,
  jtiOf,
  refreshGrant,
  revokeToken,
  verifyToken,
  type Outcome,
} from './oauth-http.ts'
import { until } from './poll.ts'

export interface Family {
  /** The refresh token we hold now. */
  current: string
  /** Every refresh token this family handed us, in order. */
  chain: string[]
  /** Refresh token → the successor it was answered with. */
  successors: Map<string, string>
  rotations: number
}

export interface AckedRevocation {
  token: string
  jti: string
  /** `performance.now()` when /revoke answered 200. */
  ackedAt: number
  /**
   * `Date.now()` at the same moment: comparable with the edge's `/revocation/status` `lastSyncAt`
   * (same machine, same wall clock; workerd's clock only lags, so "started after" stays true).
   */
  ackedAtWall: number
  /**
   * `performance.now()` at the start of the first /verify of it the edge refused (the watcher loop
   * checks every pending revocation each round): enforcement happened no later than this.
   */
  refusedAt?: number
}

export interface TrafficOptions {
  base: string
  /** Valid access tokens /verify is called with, round-robin. */
  verifyTokens: string[]
  /** One refresh token per family to rotate. */
  refreshTokens: string[]
  /** Pause between one loop's requests. Default 20 ms. */
  paceMs?: number
  /** Parallel /verify loops. Default 2. */
  verifyLoops?: number
}

export interface Traffic {
  readonly outcomes: Outcome[]
  readonly families: Family[]
  readonly revoked: AckedRevocation[]
  /** Access-token jti → times we were handed it. */
  readonly jtis: Map<string, number>
  /** Integrity violations seen while running (forks, lost families, reissued tokens). */
  readonly problems: string[]
  /**
   * Resolves `performance.now()` once no request started before `at` is still waiting for its
   * answer (each loop sends one request at a time); rejects after `deadlineMs`.
   */
  settled(at: number, deadlineMs?: number): Promise<number>
  stop(): Promise<void>
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * @example
 * const traffic = startTraffic({ base: edge.url, verifyTokens: [t], refreshTokens: [rt] })
 * ... inject a fault ...
 * await traffic.stop(); expect(traffic.problems).toEqual([])
 */
export function startTraffic(options: TrafficOptions): Traffic {
  const paceMs = options.paceMs ?? 20
  const outcomes: Outcome[] = []
  const problems: string[] = []
  const jtis = new Map<string, number>()
  const revoked: AckedRevocation[] = []
  const families: Family[] = options.refreshTokens.map((rt) => ({
    current: rt,
    chain: [rt],
    successors: new Map(),
    rotations: 0,
  }))
  let running = true
  /** Loop → `performance.now()` when its current request started (absent between requests). */
  const busySince = new Map<number, number>()
  let loopIds = 0

  const noteJti = (token: unknown): void => {
    if (typeof token !== 'string') return
    const jti = jtiOf(token)
    const seen = (jtis.get(jti) ?? 0) + 1
    jtis.set(jti, seen)
    if (seen === 2) problems.push(`access token jti issued twice`)
  }

  const loop = async (body: () => Promise<void>): Promise<void> => {
    const id = loopIds++
    while (running) {
      busySince.set(id, performance.now())
      await body()
      busySince.delete(id)
      await pause(paceMs)
    }
  }

  let next = 0
  const verifyLoop = () =>
    loop(async () => {
      const token = options.verifyTokens[next++ % options.verifyTokens.length]!
      outcomes.push((await verifyToken(options.base, token)).outcome)
    })

  const tokenLoop = () =>
    loop(async () => {
      const { outcome, body } = await clientCredentials(options.base)
      outcomes.push(outcome)
      if (outcome.status === 200) noteJti(body?.access_token)
    })

  const refreshLoop = (family: Family, index: number) =>
    loop(async () => {
      if (family.current === '') return // lost: reported once
      const presented = family.current
      const { outcome, body } = await refreshGrant(options.base, presented)
      outcomes.push(outcome)
      if (outcome.status === 200 && typeof body?.refresh_token === 'string') {
        const successor = body.refresh_token
        const earlier = family.successors.get(presented)
        // RFC 9700 §4.14.2 with a grace window: a retried token may be answered again, but only
        // with the same successor; a different one would fork the family.
        if (earlier !== undefined && earlier !== successor) problems.push(`family ${index}: forked`)
        else if (earlier === undefined && family.chain.includes(successor))
          problems.push(`family ${index}: refresh token issued twice`)
        family.successors.set(presented, successor)
        if (earlier === undefined) family.chain.push(successor)
        family.current = successor
        family.rotations += 1
        noteJti(body.access_token)
      } else if (outcome.status === 400 || outcome.status === 401) {
        // A token we hold and never saw rotated was refused: the family is lost.
        problems.push(`family ${index}: refresh refused (${outcome.error ?? outcome.status})`)
        family.current = ''
      }
      // Anything else (the service is unavailable): keep the token and retry.
    })

  const revokeLoop = () => {
    let token: string | undefined
    return loop(async () => {
      if (token === undefined) {
        const { outcome, body } = await clientCredentials(options.base)
        outcomes.push(outcome)
        if (outcome.status !== 200 || typeof body?.access_token !== 'string') return
        noteJti(body.access_token)
        token = body.access_token
        // Verified once at the edge first, so revocation has to beat the L1 cache too.
        outcomes.push((await verifyToken(options.base, token)).outcome)
        return
      }
      const { outcome } = await revokeToken(options.base, token)
      outcomes.push(outcome)
      if (outcome.status === 200) {
        revoked.push({
          token,
          jti: jtiOf(token),
          ackedAt: performance.now(),
          ackedAtWall: Date.now(),
        })
        token = undefined
      }
      // Not acknowledged: retried with the same token until it is (RFC 7009 §2.2: idempotent).
    })
  }

  // Not recorded as outcomes: a revoked token is expected to verify until the edge has synced.
  const watchLoop = () =>
    loop(async () => {
      const pending = revoked.filter((r) => r.refusedAt === undefined)
      await Promise.all(
        pending.map(async (r) => {
          const { outcome } = await verifyToken(options.base, r.token)
          if (outcome.status === 401) r.refusedAt = outcome.at
        }),
      )
    })

  const loops = [
    ...Array.from({ length: options.verifyLoops ?? 2 }, verifyLoop),
    tokenLoop(),
    revokeLoop(),
    watchLoop(),
    ...families.map(refreshLoop),
  ]

  return {
    outcomes,
    families,
    revoked,
    jtis,
    problems,
    settled: (at, deadlineMs = 30_000) =>
      until(
        () => [...busySince.values()].every((since) => since >= at),
        deadlineMs,
        'requests started earlier answered',
      ).then(() => performance.now()),
    async stop() {
      running = false
      await Promise.all(loops)
    },
  }
}
