/**
 * The durable queue of back-channel logout deliveries (OIDC Back-Channel Logout 1.0 §2.5), in L2 so
 * that no origin restart loses one and any origin may deliver it.
 *
 * A job is one (ended session, client) pair. It is the member of one schedule (the store's due-time
 * queue, `schedule`/`claimDue`/`unschedule`), written whole as a compact JSON value, so enqueueing is
 * a single atomic write and the same session ending twice queues the same job once. `claim` takes due
 * jobs atomically and leases them: a claimant that dies mid-delivery loses its lease and the job
 * becomes due again for the next origin. Each claim counts an attempt (an atomic counter beside the
 * job); a failed attempt is rescheduled with exponential backoff and jitter; a job that used every
 * attempt, or that the client refused outright, is moved to a dead-letter record for operators.
 * Delivery is therefore at least once; the job's `jti` is stable across attempts so a relying party
 * that remembers `jti`s (§2.6 step 9) sees a retry as the same logout.
 *
 * @example
 * const queue = createBackchannelQueue({ store, retry })
 * await queue.enqueue([{ clientId: 'web', sub: 'u-1', sid }])
 * for (const job of await queue.claim(10)) await queue.complete(job)
 */
import type { Clock } from '../types.ts'
import { sha256 } from './crypto.ts'
import { keys, type OAuthStore } from './store.ts'

/** One client to tell that a session (or, without `sid`, a grant) of `sub` has ended. */
export interface LogoutNotice {
  clientId: string
  sub: string
  sid?: string | undefined
  /** Names the ended grant when there is no session (a refresh family with no `sid`). */
  familyId?: string | undefined
}

export interface BackchannelJob {
  /** Stable per (session or family, client): the schedule member's id and the token's `jti`. */
  id: string
  clientId: string
  sub: string
  sid?: string | undefined
  /** 1 for the first delivery attempt. */
  attempt: number
  /** The schedule member this job was claimed as (to finish or reschedule it). */
  member: string
}

export interface RetryPolicy {
  maxAttempts: number
  retryBaseSeconds: number
  retryMaxSeconds: number
  /** How long a claimed job stays leased; longer than one delivery can take. */
  leaseSeconds: number
}

export interface BackchannelQueue {
  /** Queues one job per notice (deduplicated); resolves once every job is durable in L2. */
  enqueue(notices: readonly LogoutNotice[]): Promise<void>
  /** Claims (leases) up to `limit` due jobs; each claim counts one attempt. */
  claim(limit: number): Promise<BackchannelJob[]>
  /** The job was delivered (or has nothing to deliver): drop it. */
  complete(job: BackchannelJob): Promise<void>
  /**
   * The attempt failed. Reschedules with backoff and resolves `'retry'`, or, when `permanent` or out
   * of attempts, dead-letters the job and resolves `'dead'`.
   */
  fail(job: BackchannelJob, reason: string, permanent?: boolean): Promise<'retry' | 'dead'>
  /** Called after every enqueue (a local worker wakes up at once instead of at its next poll). */
  onEnqueue(listener: () => void): void
}

export interface BackchannelQueueOptions {
  store: OAuthStore
  retry: RetryPolicy
  clock?: Clock
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number
}

/** How long attempt counters and dead letters are kept (well past any retry schedule). */
const RETENTION_SECONDS = 7 * 86_400

interface Member {
  v: 1
  id: string
  c: string
  s: string
  sid?: string
}

function parseMember(member: string): Member | undefined {
  try {
    const m = JSON.parse(member) as Partial<Member>
    const ok =
      m.v === 1 &&
      typeof m.id === 'string' &&
      typeof m.c === 'string' &&
      typeof m.s === 'string' &&
      (m.sid === undefined || typeof m.sid === 'string')
    return ok ? (m as Member) : undefined
  } catch {
    return undefined
  }
}

/**
 * Exponential backoff with "equal jitter": half the delay fixed, half random, so retries of many jobs
 * queued together (a mass revocation, a client outage) spread out instead of arriving in waves.
 *
 * @example backoffMs(3, { retryBaseSeconds: 2, retryMaxSeconds: 600 }, 0.5) // 6000
 */
export function backoffMs(
  attempt: number,
  retry: Pick<RetryPolicy, 'retryBaseSeconds' | 'retryMaxSeconds'>,
  random: number,
): number {
  const full = Math.min(retry.retryMaxSeconds, retry.retryBaseSeconds * 2 ** (attempt - 1)) * 1000
  return Math.ceil(full / 2 + (full / 2) * random)
}

/**
 * Queues one job per notice, due now (the queue's `enqueue`, usable alone where nothing delivers:
 * the CLI's "revoke all sessions" queues, the origins deliver).
 *
 * @example await enqueueLogoutNotices(store, [{ clientId: 'web', sub: 'u-1', sid }])
 */
export async function enqueueLogoutNotices(
  store: Pick<OAuthStore, 'schedule'>,
  notices: readonly LogoutNotice[],
  now: number = Date.now(),
): Promise<void> {
  for (const n of notices) {
    // The same ended session (or family) and client always make the same job.
    const id = await sha256(`${n.sid ?? `family:${n.familyId ?? ''}`}\n${n.clientId}`)
    const member: Member = { v: 1, id, c: n.clientId, s: n.sub, ...(n.sid ? { sid: n.sid } : {}) }
    // An identical member: queueing it again (the session ended twice) only makes it due now.
    await store.schedule(keys.backchannelSchedule(), JSON.stringify(member), Math.floor(now))
  }
}

export function createBackchannelQueue(options: BackchannelQueueOptions): BackchannelQueue {
  const { store, retry } = options
  const clock = options.clock ?? Date.now
  const random = options.random ?? Math.random
  const schedule = keys.backchannelSchedule()
  const leaseMs = Math.ceil(retry.leaseSeconds * 1000)
  const listeners: (() => void)[] = []

  const attemptsKey = (id: string) => keys.backchannelAttempts(id)

  async function deadLetter(job: BackchannelJob, reason: string): Promise<void> {
    const record = {
      clientId: job.clientId,
      sub: job.sub,
      ...(job.sid ? { sid: job.sid } : {}),
      attempts: job.attempt,
      reason,
      deadAt: clock(),
    }
    await store.set(keys.backchannelDeadJob(job.id), JSON.stringify(record), {
      ttlSeconds: RETENTION_SECONDS,
    })
    await store.unschedule(schedule, job.member)
    await store.delete(attemptsKey(job.id))
  }

  return {
    async enqueue(notices) {
      await enqueueLogoutNotices(store, notices, clock())
      if (notices.length > 0) for (const listener of listeners) listener()
    },

    async claim(limit) {
      const members = await store.claimDue(schedule, Math.floor(clock()), leaseMs, limit)
      const jobs: BackchannelJob[] = []
      for (const member of members) {
        const m = parseMember(member)
        if (!m) {
          // Not ours (a corrupt or foreign value): it would be claimed forever.
          await store.unschedule(schedule, member)
          continue
        }
        const attempt = await store.increment(attemptsKey(m.id), RETENTION_SECONDS)
        jobs.push({
          id: m.id,
          clientId: m.c,
          sub: m.s,
          ...(m.sid ? { sid: m.sid } : {}),
          attempt,
          member,
        })
      }
      return jobs
    },

    async complete(job) {
      await store.unschedule(schedule, job.member)
      await store.delete(attemptsKey(job.id))
    },

    async fail(job, reason, permanent = false) {
      if (permanent || job.attempt >= retry.maxAttempts) {
        await deadLetter(job, reason)
        return 'dead'
      }
      await store.schedule(
        schedule,
        job.member,
        Math.floor(clock()) + backoffMs(job.attempt, retry, random()),
      )
      return 'retry'
    },

    onEnqueue(listener) {
      listeners.push(listener)
    },
  }
}
