/**
 * A raw HTTP/1.1 client for the fuzz suite: writes bytes exactly as given (lies, broken framing, NUL,
 * invalid UTF-8 and all), then reads one answer — skipping 1xx — framed by its Content-Length, its
 * chunked terminator or the connection's close. `fetch` and `node:http` refuse to send most of what
 * this sends.
 */
import { connect } from 'node:net'

export interface RawAnswer {
  /** The final (non-1xx) status, when one arrived. */
  status?: number
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
  /** 1xx statuses seen before the final answer (100 Continue). */
  informational: number[]
  /** `answered`: a whole response arrived; otherwise how the connection ended without one. */
  end: 'answered' | 'closed' | 'reset' | 'timeout'
}

export interface RawOptions {
  /** Half-close (FIN) after writing: a client that stops sending mid-request. */
  halfClose?: boolean
  /** The request is HEAD: its answer has no body whatever its headers say. */
  head?: boolean
  /** Upper bound for the whole exchange; generous, never an assertion about speed. */
  timeoutMs?: number
}

/**
 * @example const answer = await rawExchange(port, 'TRACE /api/x HTTP/1.1\r\nHost: a\r\n\r\n')
 */
export function rawExchange(
  port: number,
  request: string | Buffer,
  options: RawOptions = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let buffer = Buffer.alloc(0)
    const answer: RawAnswer = { headers: {}, body: '', informational: [], end: 'closed' }
    let settled = false
    const finish = (end: RawAnswer['end']) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      answer.end = end
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 20_000)

    // Returns true once a final response is complete in `buffer`.
    const parse = (closed: boolean): boolean => {
      for (;;) {
        const headEnd = buffer.indexOf('\r\n\r\n')
        if (headEnd === -1) return false
        const lines = buffer.subarray(0, headEnd).toString('latin1').split('\r\n')
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1])
        const headers: Record<string, string> = {}
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':')
          if (colon > 0)
            headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
        }
        const rest = buffer.subarray(headEnd + 4)
        if (status >= 100 && status < 200) {
          answer.informational.push(status)
          buffer = rest
          continue
        }
        if (!Number.isNaN(status)) answer.status = status
        answer.headers = headers
        if (options.head || status === 204 || status === 304) return true
        const length = headers['content-length']
        if (length !== undefined) {
          if (rest.length < Number(length)) return false
          answer.body = rest.subarray(0, Number(length)).toString('utf8')
          return true
        }
        if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
          const body = dechunk(rest)
          if (body === undefined) return false
          answer.body = body
          return true
        }
        answer.body = rest.toString('utf8')
        return closed
      }
    }

    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (parse(false)) finish('answered')
    })
    socket.on('end', () => finish(parse(true) ? 'answered' : 'closed'))
    socket.on('close', () => finish(parse(true) ? 'answered' : 'closed'))
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A reset after a whole answer arrived still counts as answered.
      if (parse(true)) return finish('answered')
      finish(e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'closed')
    })
    socket.write(request)
    if (options.halfClose) socket.end()
  })
}

/** The body of a complete chunked message, or undefined while it is incomplete. */
function dechunk(data: Buffer): string | undefined {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd === -1) return undefined
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16)
    if (Number.isNaN(size)) return undefined
    // The last chunk, then optional trailers and an empty line.
    if (size === 0)
      return data.indexOf('\r\n\r\n', lineEnd) === -1
        ? undefined
        : Buffer.concat(parts).toString('utf8')
    if (data.length < lineEnd + 2 + size + 2) return undefined
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}
