/**
 * Delivers queued back-channel logout tokens (OIDC Back-Channel Logout 1.0 §2.5) from the origin,
 * never on a user's request path: `sessions.end` only queues (backchannel-queue.ts), and this worker
 * claims due jobs, signs a `logout+jwt` per job, POSTs it as `logout_token` to the client's
 * `backchannel_logout_uri` with a deadline and without following redirects, and records the outcome.
 *
 * 200 and 204 are success (§2.8). 408, 429, 5xx, a timeout or a network error are retried with
 * backoff; any other answer is the client refusing the token, which a retry cannot fix, so the job is
 * dead-lettered at once. A client with no `backchannelLogoutUri` (any more) has nothing to deliver.
 * Every outcome is reported through `onEvent` (logs and metrics), naming the client and job, never
 * the token.
 *
 * @example
 * const worker = createBackchannelWorker({ queue, clients, signer, timeoutMs: 5000, pollMs: 2000 })
 * worker.start() // polls, and wakes at once when this process queues a job
 * await worker.stop()
 */
import type { BackchannelJob, BackchannelQueue } from './backchannel-queue.ts'
import type { ClientRegistry } from './clients.ts'
import type { TokenSigner } from './mint.ts'

export type DeliveryOutcome = 'delivered' | 'retry' | 'dead' | 'skipped'

/** What happened to one job (for logs and metrics). */
export interface BackchannelEvent {
  outcome: DeliveryOutcome
  jobId: string
  clientId: string
  attempt: number
  /** Why it failed: `http_503`, `timeout`, `network`, `refused_400`, `no_uri`, … */
  reason?: string
}

export interface BackchannelWorkerOptions {
  queue: BackchannelQueue
  clients: Pick<ClientRegistry, 'get'>
  signer: Pick<TokenSigner, 'logoutToken'>
  /** Deadline for one POST, response included. */
  timeoutMs: number
  /** How often to look for due jobs (queued by other origins, retries coming due). */
  pollMs: number
  /** Jobs claimed per round. Default 16. */
  batchSize?: number
  fetch?: typeof fetch
  onEvent?: (event: BackchannelEvent) => void
  /** A round failed as a whole (the store is unreachable); the worker carries on at its next poll. */
  onError?: (error: unknown) => void
}

export interface BackchannelWorker {
  start(): void
  /** Stops polling and waits for the deliveries in flight. */
  stop(): Promise<void>
  /** One round: claims due jobs and delivers them; resolves how many were claimed. */
  runOnce(): Promise<number>
  /** Runs a round soon (a job was just queued here). */
  nudge(): void
}

const RETRY_STATUSES = new Set([408, 425, 429])

/** Why one POST failed, or undefined on success. */
async function post(
  url: string,
  token: string,
  timeoutMs: number,
  fetchFn: typeof fetch,
): Promise<{ ok: true } | { ok: false; retry: boolean; reason: string }> {
  let response: Response
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    })
    // The body is not needed: cancelling it frees the connection without reading what a hostile
    // endpoint might send.
    await response.body?.cancel().catch(() => undefined)
  } catch (e) {
    const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')
    return { ok: false, retry: true, reason: timeout ? 'timeout' : 'network' }
  }
  const status = response.status
  if (status === 200 || status === 204) return { ok: true }
  const retry = status >= 500 || RETRY_STATUSES.has(status)
  return { ok: false, retry, reason: retry ? `http_${status}` : `refused_${status}` }
}

export function createBackchannelWorker(options: BackchannelWorkerOptions): BackchannelWorker {
  const { queue, clients, signer, timeoutMs, pollMs } = options
  const batchSize = options.batchSize ?? 16
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init))
  const report = options.onEvent ?? (() => {})
  let stopped = true
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<number> | undefined
  let again = false
  let listening = false

  async function deliver(job: BackchannelJob): Promise<void> {
    const event = { jobId: job.id, clientId: job.clientId, attempt: job.attempt }
    const uri = clients.get(job.clientId)?.backchannelLogoutUri
    if (uri === undefined) {
      await queue.complete(job)
      return report({ ...event, outcome: 'skipped', reason: 'no_uri' })
    }
    const token = await signer.logoutToken({
      clientId: job.clientId,
      sub: job.sub,
      sid: job.sid,
      jti: job.id,
    })
    const result = await post(uri, token, timeoutMs, fetchFn)
    if (result.ok) {
      await queue.complete(job)
      return report({ ...event, outcome: 'delivered' })
    }
    const outcome = await queue.fail(job, result.reason, !result.retry)
    report({ ...event, outcome, reason: result.reason })
  }

  async function round(): Promise<number> {
    const jobs = await queue.claim(batchSize)
    // One job's store error must not stop the others; it is retried when its lease ends.
    await Promise.all(jobs.map((job) => deliver(job).catch((e: unknown) => options.onError?.(e))))
    return jobs.length
  }

  function runOnce(): Promise<number> {
    running ??= round().finally(() => (running = undefined))
    return running
  }

  function schedule(delayMs: number): void {
    if (stopped) return
    clearTimeout(timer)
    timer = setTimeout(() => void tick(), delayMs)
  }

  async function tick(): Promise<void> {
    timer = undefined
    if (stopped) return
    again = false
    let claimed = 0
    try {
      claimed = await runOnce()
    } catch (e) {
      options.onError?.(e)
    }
    // A full batch may mean more are due; a nudge during the round means a new job is.
    schedule(claimed >= batchSize || again ? 0 : pollMs)
  }

  const nudge = (): void => {
    if (stopped) return
    if (running) again = true
    else schedule(0)
  }

  return {
    start() {
      if (!stopped) return
      stopped = false
      if (!listening) queue.onEnqueue(nudge)
      listening = true
      schedule(0)
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      timer = undefined
      await running?.catch(() => undefined)
    },
    runOnce,
    nudge,
  }
}
