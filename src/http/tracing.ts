/**
 * OpenTelemetry-compatible tracing for both runtimes: one SERVER span per request, named
 * `<METHOD> <route pattern>` with only the method, matched route, status and role as attributes
 * (never a header, a path, a query or a token), continuing the caller's W3C `traceparent`. The span's
 * own `traceparent` is put on the context (`c.get('traceparent')`) so the origin proxy sends it on:
 * the origin's span then has the edge's span as parent and both share one trace id.
 *
 * Export is OTLP/HTTP JSON (tracing-exporter.ts). On Workers each request hands its flush to
 * `waitUntil` (no timers survive a request there); on Node spans are batched for `flushIntervalMs`.
 * Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import type { Logger } from './log.ts'
import { formatTraceparent, parseTraceparent, randomHexId } from './tracing-context.ts'
import { createSpanExporter, unixNano, type FinishedSpan } from './tracing-exporter.ts'
import type { GatehouseEnv } from './types.ts'

export interface TracingOptions {
  /** OTLP `service.name`, e.g. `gatehouse-edge`. */
  serviceName: string
  /** `edge` or `origin`, recorded as `gatehouse.role`. */
  role: 'edge' | 'origin'
  /** Full URL spans are POSTed to (`…/v1/traces`). */
  url: string
  headers?: Record<string, string>
  fetch?: typeof fetch
  /** Node: how long spans wait to be sent together. Default 1,000 ms. Workers flush per request. */
  flushIntervalMs?: number
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number
  logger?: Logger
}

export interface Tracing {
  middleware: MiddlewareHandler<GatehouseEnv>
  /** Sends every finished span now (call on shutdown). */
  flush(): Promise<void>
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * @example
 * const tracing = createTracing({ serviceName: 'gatehouse-origin', role: 'origin', url: 'http://collector:4318/v1/traces' })
 * createApp({ ..., middleware: [tracing.middleware] })
 */
export function createTracing(options: TracingOptions): Tracing {
  const exporter = createSpanExporter({
    url: options.url,
    serviceName: options.serviceName,
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  const now = options.now ?? Date.now
  const flushIntervalMs = options.flushIntervalMs ?? 1000
  let timer: ReturnType<typeof setTimeout> | undefined

  const scheduleFlush = (c: Context<GatehouseEnv>): void => {
    const flush = exporter.flush()
    let handed = false
    try {
      // Hono's getter throws when the runtime gave no execution context (Node).
      c.executionCtx.waitUntil(flush)
      handed = true
    } catch {
      // Node: batch instead.
    }
    if (handed || timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      void exporter.flush()
    }, flushIntervalMs)
    ;(timer as { unref?: () => void }).unref?.()
  }

  const middleware: MiddlewareHandler<GatehouseEnv> = async (c, next) => {
    const parent = parseTraceparent(c.req.header('traceparent'))
    const traceId = parent?.traceId ?? randomHexId(16)
    const spanId = randomHexId(8)
    // A caller that decided not to sample is followed (W3C §3.2.2.5): we propagate but do not record.
    const sampled = parent?.sampled ?? true
    c.set('traceparent', formatTraceparent({ traceId, spanId, sampled }))
    const start = now()
    try {
      await next()
    } finally {
      if (sampled) {
        const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER'
        const route = routeLabel(c)
        const status = c.res.status
        const span: FinishedSpan = {
          traceId,
          spanId,
          ...(parent ? { parentSpanId: parent.spanId } : {}),
          name: `${method} ${route}`,
          kind: 2,
          startTimeUnixNano: unixNano(start),
          endTimeUnixNano: unixNano(Math.max(start, now())),
          attributes: [
            { key: 'http.request.method', value: { stringValue: method } },
            { key: 'http.route', value: { stringValue: route } },
            { key: 'http.response.status_code', value: { intValue: String(status) } },
            { key: 'gatehouse.role', value: { stringValue: options.role } },
          ],
          // OTel HTTP semantic conventions: a server span is an error for 5xx only.
          status: { code: status >= 500 ? 2 : 0 },
        }
        exporter.add(span)
        scheduleFlush(c)
      }
    }
  }

  return {
    middleware,
    flush: () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      return exporter.flush()
    },
  }
}

/** The matched route pattern (bounded set of values), `unmatched` for a 404 that matched none. */
function routeLabel(c: Context<GatehouseEnv>): string {
  const route = routePath(c)
  if (route === '' || ((route === '/*' || route === '*') && c.res.status === 404))
    return 'unmatched'
  return route
}

/**
 * Tracing from the standard OpenTelemetry variables, or undefined when it is off:
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`,
 * as the OTLP exporter specification says), `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`),
 * `OTEL_SERVICE_NAME` (default `gatehouse-<role>`), `OTEL_SDK_DISABLED=true` turns it off. A bad
 * endpoint throws a `TypeError` naming the variable (never its value) at start.
 *
 * @example
 * const tracing = tracingFromEnv(process.env, { role: 'origin', logger })
 * const middleware = tracing ? [tracing.middleware] : []
 */
export function tracingFromEnv(
  env: Record<string, unknown>,
  runtime: Pick<TracingOptions, 'role' | 'fetch' | 'logger' | 'now'>,
): Tracing | undefined {
  const text = (name: string): string | undefined => {
    const v = env[name]
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
  }
  if (text('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined
  const tracesEndpoint = text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  const baseEndpoint = text('OTEL_EXPORTER_OTLP_ENDPOINT')
  const name = tracesEndpoint ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT'
  const raw =
    tracesEndpoint ?? (baseEndpoint ? `${baseEndpoint.replace(/\/+$/, '')}/v1/traces` : '')
  if (raw === '') return undefined
  const parsed = URL.canParse(raw) ? new URL(raw) : undefined
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw new TypeError(`${name}: must be an absolute http(s) URL`)
  const headers: Record<string, string> = {}
  for (const pair of (text('OTEL_EXPORTER_OTLP_HEADERS') ?? '').split(',')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    const key = pair.slice(0, eq).trim()
    let value: string
    try {
      value = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      throw new TypeError('OTEL_EXPORTER_OTLP_HEADERS: values must be URL-encoded')
    }
    if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) headers[key] = value
  }
  return createTracing({
    serviceName: text('OTEL_SERVICE_NAME') ?? `gatehouse-${runtime.role}`,
    url: parsed.href,
    headers,
    ...runtime,
  })
}
