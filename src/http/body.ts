/**
 * Reading a small request body with a hard cap, for the form bodies of `/verify` (RFC 6750 §2.2) and
 * the OAuth endpoints (RFC 6749 §3.2). Hostile clients may lie about, or omit, `Content-Length`, so the
 * cap holds either way.
 *
 * @example const bytes = await readCappedBody(request, 16 * 1024) // or throws BodyTooLargeError
 */

/** The body (or its declared length) exceeds the cap, or the declared length is not a number. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError'
}

export async function readCappedBody(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && (!/^\d{1,15}$/.test(declared) || Number(declared) > max))
    throw new BodyTooLargeError('the request body is too large')
  if (declared !== null) {
    // The server's HTTP parser frames the body by its Content-Length (RFC 9112 §6.2, §6.3), so
    // reading it whole reads at most `max` bytes; re-checked for runtimes that do not frame (an
    // in-process Request). Why not the stream: on @hono/node-server, touching `request.body` builds
    // a WHATWG stream over the socket (~35 µs per /token request measured here), while
    // `arrayBuffer()` reads the buffered body directly (~3 µs).
    const bytes = new Uint8Array(await request.arrayBuffer())
    if (bytes.byteLength > max) throw new BodyTooLargeError('the request body is too large')
    return bytes
  }
  if (!request.body) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > max) {
      await reader.cancel().catch(() => undefined)
      throw new BodyTooLargeError('the request body is too large')
    }
    chunks.push(value)
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
