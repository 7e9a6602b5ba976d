/**
 * Prometheus metrics for the origin (Node only: prom-client needs Node's process APIs, so the Worker
 * never imports this file). Each `createMetrics()` owns its Registry — never prom-client's global one —
 * so tests and several apps in one process do not collide.
 *
 * Metrics: `gatehouse_http_requests_total{method,route,status}`,
 * `gatehouse_http_request_duration_seconds{method,route}` (histogram), `gatehouse_tokens_issued_total
 * {grant_type}`, `gatehouse_login_failures_total{reason}`, `gatehouse_store_errors_total{operation}`,
 * `gatehouse_sessions_ended_total{reason}`, `gatehouse_backchannel_logout_total{outcome}`,
 * plus prom-client's default process metrics under their standard names (`process_*`, `nodejs_*`) so
 * stock dashboards work. `route` is Hono's matched pattern (`/token`, `/api/*`), never the raw path:
 * a label per distinct URL would let any client grow the registry without bound.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { Counter, Registry, collectDefaultMetrics } from 'prom-client'
import type { Store } from '../store/types.ts'
import { droppedLogLines } from './node-log-sink.ts'
import { createRequestHistogram } from './node-request-histogram.ts'
import type { AnsweredRequest, GatehouseEnv } from '../http/types.ts'

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
/** Seconds; an auth service answers in milliseconds, a login with scrypt in ~100 ms. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Free-form label values (reasons, operations) are plain words, and few. */
const LABEL_VALUE = /^[a-z0-9_]{1,48}$/
const MAX_VALUES_PER_LABEL = 32

export interface MetricsOptions {
  /** Collect prom-client's default process metrics into this registry. Default true. */
  defaultMetrics?: boolean
}

export interface Metrics {
  registry: Registry
  /**
   * Counts and times one answered request under its matched route: the app's `requestHooks.after`
   * (no middleware layer of its own; `createApp({ requestHooks: nodeRequestHooks(metrics) })`).
   */
  record(answered: AnsweredRequest, seconds: number): void
  /** `record` as a middleware, for apps that compose their own stack; mount first. */
  middleware: MiddlewareHandler<GatehouseEnv>
  /** `GET /metrics` in the Prometheus text format, `no-store`. */
  routes: Hono<GatehouseEnv>
  /** A token response was sent for this grant (`authorization_code`, `refresh_token`, ...). */
  tokenIssued(grantType: string): void
  /** A login attempt failed (`bad_password`, `unknown_user`, `rate_limited`, ...). */
  loginFailed(reason: string): void
  /** A store call failed (`get`, `compareAndSwap`, ...). */
  storeError(operation: string): void
  /** A login session ended (`logout`, `subject_revoked`, `refresh_reuse`). */
  sessionEnded(reason: string): void
  /** A back-channel logout job was handled (`delivered`, `retry`, `dead`, `skipped`). */
  backchannelLogout(outcome: string): void
  /** The same store, counting each rejected call in `gatehouse_store_errors_total{operation}`. */
  instrumentStore<S extends Partial<Store>>(store: S): S
}

/**
 * Builds the registry and its metrics.
 *
 * @example
 * const metrics = createMetrics()
 * const app = createApp({ ..., requestHooks: { after: metrics.record } }) // or nodeRequestHooks
 * app.route('/', metrics.routes)
 * metrics.tokenIssued('client_credentials')
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })

  // Per request only a few Map lookups and an addition: answered requests are counted here and
  // handed to prom-client when /metrics is read (its `inc` per request cost microseconds; issue 15).
  // Keyed route → method → status, so no key string is built (and hashed) per request: the route
  // and method strings are the same objects every time (Hono's pattern, the parser's method).
  const answered = new Map<string, Map<string, Map<number, AnsweredCount>>>()
  new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests answered, by method, matched route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
    collect() {
      for (const byMethod of answered.values()) {
        for (const byStatus of byMethod.values()) {
          for (const entry of byStatus.values()) {
            if (entry.pending === 0) continue
            this.inc(entry.labels, entry.pending)
            entry.pending = 0
          }
        }
      }
    },
  })
  const duration = createRequestHistogram(registry, {
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time from request to response headers, by method and matched route.',
    buckets: LATENCY_BUCKETS,
  })
  // Like the request counter: counted per grant here, handed to prom-client at scrape (one /token
  // response is one `inc`, which cost more than the rest of this file's per-request work).
  const issued = new Map<string, number>()
  new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Token responses sent by the token endpoint, by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [registry],
    collect() {
      for (const [grant, pending] of issued) {
        if (pending === 0) continue
        this.inc({ grant_type: grant }, pending)
        issued.set(grant, 0)
      }
    },
  })
  // The log sink counts what it drops while stdout's reader is more than MAX_PENDING_BYTES behind.
  let droppedSeen = 0
  new Counter({
    name: 'gatehouse_log_lines_dropped_total',
    help: 'Log lines dropped because the reader of stdout fell too far behind (16 MiB kept).',
    registers: [registry],
    collect() {
      const total = droppedLogLines()
      if (total > droppedSeen) {
        this.inc(total - droppedSeen)
        droppedSeen = total
      }
    },
  })
  const logins = new Counter({
    name: 'gatehouse_login_failures_total',
    help: 'Failed login attempts, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const storeErrors = new Counter({
    name: 'gatehouse_store_errors_total',
    help: 'Failed calls to the L2 store, by operation.',
    labelNames: ['operation'] as const,
    registers: [registry],
  })

  const sessions = new Counter({
    name: 'gatehouse_sessions_ended_total',
    help: 'Login sessions ended, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const backchannel = new Counter({
    name: 'gatehouse_backchannel_logout_total',
    help: 'Back-channel logout deliveries, by outcome (retry: will be tried again; dead: given up).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })

  const grantType = boundedLabel()
  const reason = boundedLabel()
  const operation = boundedLabel()
  const endReason = boundedLabel()
  const deliveryOutcome = boundedLabel()
  const storeError = (op: string): void => storeErrors.inc({ operation: operation(op) })

  const record = (request: AnsweredRequest, seconds: number): void => {
    const method = methodLabel(request.method)
    const status = request.status
    const route = routeLabel(request.route, status)
    duration.observe(method, route, seconds)
    let byMethod = answered.get(route)
    if (byMethod === undefined) answered.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()))
    const entry = byStatus.get(status)
    if (entry !== undefined) entry.pending++
    else byStatus.set(status, { labels: { method, route, status: String(status) }, pending: 1 })
  }
  const middleware: MiddlewareHandler<GatehouseEnv> = async (c, next) => {
    const start = performance.now()
    try {
      await next()
    } finally {
      // After the routes Hono's route index points at the handler that answered (or onError's).
      const answered = { method: c.req.method, route: routePath(c), status: c.res.status }
      record(answered, (performance.now() - start) / 1000)
    }
  }

  const routes = new Hono<GatehouseEnv>()
  routes.get('/metrics', async (c) =>
    c.body(await registry.metrics(), 200, {
      'Content-Type': registry.contentType,
      'Cache-Control': 'no-store',
    }),
  )

  return {
    registry,
    record,
    middleware,
    routes,
    tokenIssued: (grant) => {
      const label = grantType(grant)
      issued.set(label, (issued.get(label) ?? 0) + 1)
    },
    loginFailed: (why) => logins.inc({ reason: reason(why) }),
    storeError,
    sessionEnded: (why) => sessions.inc({ reason: endReason(why) }),
    backchannelLogout: (outcome) => backchannel.inc({ outcome: deliveryOutcome(outcome) }),
    instrumentStore<S extends Partial<Store>>(store: S): S {
      return new Proxy(store, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver)
          if (typeof value !== 'function' || typeof property !== 'string') return value
          return (...args: unknown[]) => {
            const result: unknown = value.apply(target, args)
            if (result instanceof Promise) {
              return result.catch((err: unknown) => {
                storeError(property)
                throw err
              })
            }
            return result
          }
        },
      })
    },
  }
}

interface RequestLabels {
  method: string
  route: string
  status: string
}

/** Requests answered under one set of labels since the last scrape. */
interface AnsweredCount {
  labels: RequestLabels
  pending: number
}

const methodLabel = (method: string): string => (METHODS.has(method) ? method : 'OTHER')

/** The matched pattern; a request that matched only middleware (a 404) is `unmatched`. */
function routeLabel(route: string, status: number): string {
  if (route === '' || ((route === '/*' || route === '*') && status === 404)) return 'unmatched'
  return route
}

/**
 * Label values from our own code are constants, but a caller passing something derived from input
 * must not be able to mint series: values must look like words and at most 32 distinct ones are kept;
 * the rest become `other`.
 */
function boundedLabel(): (value: string) => string {
  const seen = new Set<string>()
  return (value) => {
    if (!LABEL_VALUE.test(value)) return 'other'
    if (seen.has(value)) return value
    if (seen.size >= MAX_VALUES_PER_LABEL) return 'other'
    seen.add(value)
    return value
  }
}
