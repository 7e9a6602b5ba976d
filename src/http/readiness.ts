/**
 * `/readyz` at the origin: ready means "send me traffic" — the L2 store answers a PING within a short
 * deadline and the process is not draining. Kubernetes takes an unready pod out of the Service, so on
 * SIGTERM the pod turns unready first and finishes its in-flight requests while no new ones arrive.
 * `/healthz` (liveness, in createApp) stays 200 throughout: a slow store must not get pods restarted.
 */
import { Hono } from 'hono'
import type { Store } from '../store/types.ts'
import type { GatehouseEnv } from './types.ts'
import { setErrorCode } from './request-record.ts'

export const DEFAULT_READINESS_TIMEOUT_MS = 1000

export interface ReadinessOptions {
  store: Pick<Store, 'ping'>
  /** True once shutdown began. */
  draining: () => boolean
  /** How long a PING may take before the store counts as unreachable. Default 1,000 ms. */
  timeoutMs?: number
}

const NO_STORE = { 'Cache-Control': 'no-store' }

/**
 * The `/readyz` route group: 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","reason"}` with
 * reason `draining` or `store_unreachable`.
 *
 * @example
 * let closing = false
 * app.route('/', createReadiness({ store, draining: () => closing }))
 */
export function createReadiness(options: ReadinessOptions): Hono<GatehouseEnv> {
  if (typeof options.store?.ping !== 'function')
    throw new TypeError('createReadiness: store required')
  if (typeof options.draining !== 'function')
    throw new TypeError('createReadiness: draining must be a function')
  const timeoutMs = options.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw new TypeError('createReadiness: timeoutMs must be a positive integer')

  const storeAnswers = async (): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs)
    })
    try {
      // ping() resolves false rather than throwing, but a broken adapter must not make this a 500.
      return await Promise.race([options.store.ping().catch(() => false), deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  const app = new Hono<GatehouseEnv>()
  app.get('/readyz', async (c) => {
    const notReady = (reason: string) => {
      setErrorCode(c, reason)
      return c.json({ status: 'not_ready', reason }, 503, NO_STORE)
    }
    if (options.draining()) return notReady('draining')
    if (!(await storeAnswers())) return notReady('store_unreachable')
    // Checked again: shutdown may have begun while we waited for the store.
    if (options.draining()) return notReady('draining')
    return c.json({ status: 'ready' }, 200, NO_STORE)
  })
  return app
}
