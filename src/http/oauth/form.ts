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
import { BodyTooLargeError, readCappedBody } from '../body.ts'

export const MAX_FORM_BYTES = 16 * 1024

/** Fatal: a body that is not UTF-8 is refused, not repaired. Stateless for whole inputs: shared. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

const tooLarge = (): OAuthError =>
  new OAuthError('invalid_request', 'The request body is too large.', 413)

/**
 * Whether a `Content-Type` names a UTF-8 form body (RFC 6749 Appendix B).
 *
 * @example isFormContentType('application/x-www-form-urlencoded; charset=UTF-8') // true
 */
export function isFormContentType(value: string | null): boolean {
  if (value === null) return false
  // What every client sends: no split and no parameter walk.
  if (value === 'application/x-www-form-urlencoded') return true
  const [type, ...parameters] = value.split(';').map((p) => p.trim().toLowerCase())
  if (type !== 'application/x-www-form-urlencoded') return false
  return parameters.every((p) => p === '' || p === 'charset=utf-8' || p === 'charset="utf-8"')
}

export async function readForm(request: Request, max = MAX_FORM_BYTES): Promise<URLSearchParams> {
  if (!isFormContentType(request.headers.get('content-type')))
    throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.')
  let bytes: Uint8Array
  try {
    bytes = await readCappedBody(request, max)
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw tooLarge()
    throw new OAuthError('invalid_request', 'The request body could not be read.')
  }
  return parseFormBytes(bytes)
}

/**
 * A form body's bytes as parameters: valid UTF-8, and no percent-escape that decodes to invalid UTF-8
 * (URLSearchParams would turn it into U+FFFD); `invalid_request` otherwise. Also used by the Node
 * origin's /token path (src/entry/node-token-fast-path.ts), which reads the body itself.
 *
 * @example const form = parseFormBytes(new TextEncoder().encode('grant_type=client_credentials'))
 */
export function parseFormBytes(bytes: Uint8Array): URLSearchParams {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new OAuthError('invalid_request', 'The request body is not valid UTF-8.')
  }
  const params = new URLSearchParams(text)
  for (const [name, value] of params) {
    if (name.includes('\uFFFD') || value.includes('\uFFFD'))
      throw new OAuthError('invalid_request', 'The request body is not valid UTF-8.')
  }
  return params
}
