/**
 * OpenTelemetry-compatible tracing for both runtimes: one SERVER span per request, named
 * `<METHOD> <route pattern>` with only the method, matched route, status and role as attributes
 * (never a header, a path, a query or a token), continuing the caller's W3C `traceparent`. The span's
 * own `traceparent` is put on the context (`c.get('traceparent')`) so the origin proxy sends it on:
 * the origin's span then has the edge's span as parent and both share one trace id.
 *
 * Export is OTLP/HTTP JSON (tracing-exporter.ts). On Workers each request hands its flush to
 * `waitUntil` (no timers survive a request there); on Node spans are batched for `flushIntervalMs`.
 * Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the
 * variables are parsed with the rest of the config (core/config.ts).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { parseTracingConfig, type TracingConfig } from '../core/config.ts'
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
 * Tracing from the parsed config (`config.tracing`, from the standard OpenTelemetry variables listed
 * in config-variables.ts), or undefined when it is off.
 *
 * @example
 * const tracing = tracingFromConfig(config.tracing, { role: 'origin', logger })
 * const middleware = tracing ? [tracing.middleware] : []
 */
export function tracingFromConfig(
  config: TracingConfig | undefined,
  runtime: Pick<TracingOptions, 'role' | 'fetch' | 'logger' | 'now'>,
): Tracing | undefined {
  if (config === undefined) return undefined
  return createTracing({
    serviceName: config.serviceName ?? `gatehouse-${runtime.role}`,
    url: config.url,
    headers: config.headers,
    ...runtime,
  })
}

/**
 * {@link tracingFromConfig} over the `OTEL_*` variables of `env` alone; a bad one throws a
 * `ConfigError` naming it (never its value).
 *
 * @example const tracing = tracingFromEnv(process.env, { role: 'origin', logger })
 */
export function tracingFromEnv(
  env: Record<string, unknown>,
  runtime: Pick<TracingOptions, 'role' | 'fetch' | 'logger' | 'now'>,
): Tracing | undefined {
  return tracingFromConfig(parseTracingConfig(env), runtime)
}
