/**
 * A tiny OTLP/HTTP JSON collector stub on loopback: accepts `POST /v1/traces`, keeps every span with
 * its resource's `service.name`, answers 200 `{}` (OTLP's empty ExportTraceServiceResponse).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface CollectedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes: { key: string; value: Record<string, unknown> }[]
  status?: { code?: number }
  startTimeUnixNano: string
  endTimeUnixNano: string
}

export interface OtlpCollector {
  /** Base URL, the value of OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string
  spans: CollectedSpan[]
  /** Raw request bodies, to check that nothing secret was exported. */
  bodies: string[]
  close(): Promise<void>
}

/**
 * @example
 * const collector = await startOtlpCollector()
 * env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url
 */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = []
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end()
        return
      }
      bodies.push(body)
      try {
        const doc = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] }
            scopeSpans: { spans: Omit<CollectedSpan, 'service'>[] }[]
          }[]
        }
        for (const rs of doc.resourceSpans) {
          const service =
            rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? ''
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ service, ...s })
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      } catch {
        res.writeHead(400).end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
