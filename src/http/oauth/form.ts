/**
 * Strict reading of OAuth form bodies (RFC 6749 §3.2, Appendix B): only
 * `application/x-www-form-urlencoded` (UTF-8), at most 16 KiB (413 beyond, checked on `Content-Length`,
 * which frames the body, and while streaming a body without one, so a lying or missing length cannot
 * get more through), valid UTF-8.
 * Repeated parameters are left in the `URLSearchParams` for the core's `param()` to refuse
 * (RFC 6749 §3.1), so the error names the parameter.
 *
 * @example const form = await readForm(c.req.raw) // URLSearchParams, or throws OAuthError
 */
import { OAuthError } from '../../core/oauth/errors.ts'

export const MAX_FORM_BYTES = 16 * 1024

const tooLarge = (): OAuthError =>
  new OAuthError('invalid_request', 'The request body is too large.', 413)

function isFormContentType(value: string | null): boolean {
  if (value === null) return false
  const [type, ...parameters] = value.split(';').map((p) => p.trim().toLowerCase())
  if (type !== 'application/x-www-form-urlencoded') return false
  return parameters.every((p) => p === '' || p === 'charset=utf-8' || p === 'charset="utf-8"')
}

async function readCapped(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && (!/^\d{1,15}$/.test(declared) || Number(declared) > max))
    throw tooLarge()
  if (declared !== null) {
    // The server's HTTP parser frames the body by its Content-Length (RFC 9112 §6.2, §6.3), so
    // reading it whole reads at most `max` bytes; re-checked for runtimes that do not frame (an
    // in-process Request). Why not the stream: on @hono/node-server, touching `request.body` builds
    // a WHATWG stream over the socket (~35 µs per /token request measured here), while
    // `arrayBuffer()` reads the buffered body directly (~3 µs).
    const bytes = new Uint8Array(await request.arrayBuffer())
    if (bytes.byteLength > max) throw tooLarge()
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
      throw tooLarge()
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

export async function readForm(request: Request, max = MAX_FORM_BYTES): Promise<URLSearchParams> {
  if (!isFormContentType(request.headers.get('content-type')))
    throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.')
  let bytes: Uint8Array
  try {
    bytes = await readCapped(request, max)
  } catch (e) {
    if (e instanceof OAuthError) throw e
    throw new OAuthError('invalid_request', 'The request body could not be read.')
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new OAuthError('invalid_request', 'The request body is not valid UTF-8.')
  }
  // Percent-escapes that decode to invalid UTF-8 become U+FFFD in URLSearchParams; refuse them.
  const params = new URLSearchParams(text)
  for (const [name, value] of params) {
    if (name.includes('\uFFFD') || value.includes('\uFFFD'))
      throw new OAuthError('invalid_request', 'The request body is not valid UTF-8.')
  }
  return params
}
