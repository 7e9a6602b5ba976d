/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) `traceparent`: parsing what arrives, making
 * ids, formatting what we send. Web APIs only (crypto.getRandomValues), so the Worker and Node share it.
 */

export interface SpanContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string
  /** 16 lowercase hex digits, not all zero. */
  spanId: string
  /** The `sampled` flag (bit 0 of trace-flags). */
  sampled: boolean
}

// §3.2.2: version-format = trace-id "-" parent-id "-" trace-flags, lowercase hex only.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)
/** A header longer than this is not a traceparent we will look at (version 00 is 55 characters). */
const MAX_LENGTH = 256

/**
 * The caller's span context, or undefined when the header is absent or invalid (then a new trace
 * starts, §4.3). Version `ff` and all-zero ids are invalid (§3.2.2.1, §3.2.2.3, §3.2.2.4); version 00
 * has no trailing fields; a later version is read by its first four fields (§4.3, forward compatibility).
 *
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.sampled // true
 */
export function parseTraceparent(header: string | null | undefined): SpanContext | undefined {
  if (typeof header !== 'string' || header.length > MAX_LENGTH) return undefined
  const match = TRACEPARENT.exec(header.trim())
  if (!match) return undefined
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ]
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 }
}

/** `00-<trace-id>-<span-id>-<flags>` for the span we are in, sent to the next hop. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`
}

/** Random lowercase hex of `bytes` bytes, never all zero (an all-zero id is invalid, §3.2.2.3). */
export function randomHexId(bytes: 8 | 16): string {
  const buffer = new Uint8Array(bytes)
  do crypto.getRandomValues(buffer)
  while (buffer.every((b) => b === 0))
  let hex = ''
  for (const b of buffer) hex += b.toString(16).padStart(2, '0')
  return hex
}
