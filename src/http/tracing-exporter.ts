/**
 * A minimal OTLP/HTTP JSON span exporter over `fetch` (OTLP specification, "OTLP/HTTP", JSON encoding:
 * ids as lowercase hex, 64-bit integers as decimal strings). Written instead of using
 * @opentelemetry/exporter-trace-otlp-http because that exporter sends through Node's `http` module or
 * the browser's XHR/sendBeacon, neither of which exists in workerd, and the Workers wrapper
 * (@microlabs/otel-cf-workers 0.9) pins OpenTelemetry 1.x / exporter 0.36 and zod 3 next to our zod 4
 * and patches the global fetch. What we need — one server span per request, exported in batches — is
 * the ~100 lines below, on Web APIs only.
 */
import type { Logger } from './log.ts'

/** One finished span in the shape OTLP JSON wants, minus the resource and scope wrappers. */
export interface FinishedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  /** OTLP SpanKind: 2 = SERVER, 3 = CLIENT. */
  kind: 2 | 3
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes: { key: string; value: { stringValue: string } | { intValue: string } }[]
  /** OTLP StatusCode: 0 = UNSET, 2 = ERROR. */
  status: { code: 0 | 2 }
}

export interface SpanExporterOptions {
  /** Full URL spans are POSTed to (`…/v1/traces`). */
  url: string
  serviceName: string
  /** Extra request headers, e.g. a collector's API key (OTEL_EXPORTER_OTLP_HEADERS). */
  headers?: Record<string, string>
  fetch?: typeof fetch
  /** Per-export deadline. Default 5,000 ms. */
  timeoutMs?: number
  /** Spans held while the collector is slow or down; newer ones are dropped past this. Default 2,048. */
  maxQueue?: number
  /** Spans per request. Default 256. */
  maxBatch?: number
  logger?: Logger
}

export interface SpanExporter {
  add(span: FinishedSpan): void
  /** Sends everything queued; never rejects (a collector outage must not fail a request). */
  flush(): Promise<void>
  readonly queued: number
}

/** Milliseconds since the epoch (fractional) as OTLP's decimal nanoseconds, without float overflow. */
export const unixNano = (ms: number): string => `${Math.round(ms * 1000)}000`

/**
 * @example
 * const exporter = createSpanExporter({ url: 'http://127.0.0.1:4318/v1/traces', serviceName: 'gatehouse-origin' })
 * exporter.add(span); await exporter.flush()
 */
export function createSpanExporter(options: SpanExporterOptions): SpanExporter {
  const url = new URL(options.url)
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError('createSpanExporter: url must be an absolute http(s) URL')
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => fetch(input, init))
  const timeoutMs = options.timeoutMs ?? 5000
  const maxQueue = options.maxQueue ?? 2048
  const maxBatch = options.maxBatch ?? 256
  const resource = {
    attributes: [{ key: 'service.name', value: { stringValue: options.serviceName } }],
  }
  const queue: FinishedSpan[] = []
  let dropped = 0

  const send = async (spans: FinishedSpan[]): Promise<void> => {
    const body = JSON.stringify({
      resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'gatehouse' }, spans }] }],
    })
    try {
      const response = await doFetch(url.href, {
        method: 'POST',
        headers: { ...options.headers, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      })
      await response.body?.cancel().catch(() => {})
      if (!response.ok)
        options.logger?.log({ level: 'warn', msg: 'trace export failed', status: response.status })
    } catch (err) {
      options.logger?.log({
        level: 'warn',
        msg: 'trace export failed',
        errorName: err instanceof Error ? err.name : typeof err,
      })
    }
  }

  return {
    get queued() {
      return queue.length
    },
    add(span) {
      if (queue.length >= maxQueue) {
        dropped += 1
        return
      }
      queue.push(span)
    },
    async flush() {
      if (dropped > 0) {
        options.logger?.log({ level: 'warn', msg: 'trace spans dropped', count: dropped })
        dropped = 0
      }
      const sends: Promise<void>[] = []
      while (queue.length > 0) sends.push(send(queue.splice(0, maxBatch)))
      await Promise.all(sends)
    },
  }
}
