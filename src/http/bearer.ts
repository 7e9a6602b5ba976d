/**
 * Finds the access token in a request, strictly (RFC 6750 §2, RFC 9449 §7.1). Accepted: the
 * `Authorization: Bearer` header (§2.1), `Authorization: DPoP` for a DPoP-bound token (RFC 9449 §7.1;
 * the proof is the caller's to check) and, where the caller allows it, a form-encoded `access_token`
 * body parameter (§2.2, a bearer presentation). Never the URI query (§2.3): RFC 9700 §4.3.2 forbids it
 * because URLs end up in logs, browser history and Referer headers. Every ambiguity is an
 * `invalid_request`, not a guess.
 */
import { AuthError, type AuthScheme } from '../core/errors.ts'
import { BodyIncompleteError, BodyTooLargeError, readCappedBody } from './body.ts'
import { requestHeader } from './request-headers.ts'

/** Largest form body read when looking for `access_token`; anything bigger is refused unread. */
export const MAX_FORM_BODY_BYTES = 32 * 1024

// RFC 7235 §2.1: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]; scheme is a token.
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/s
// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

const malformed = (description: string) => new AuthError('request_malformed', description)

/** A token as presented, and the scheme it came with (a form-body token is a bearer one). */
export interface PresentedToken {
  token: string
  scheme: AuthScheme
}

/**
 * Returns the token and its scheme, or throws an `AuthError`: `token_missing` (401 without an error
 * code) when there is none or another auth scheme is used (RFC 6750 §3.1), `request_malformed` (400)
 * for a malformed header, a query-string token, or a token sent in more than one place (RFC 6750 §2:
 * "MUST NOT use more than one method").
 *
 * @example const { token, scheme } = await extractAccessToken(c.req.raw, { allowFormBody: false })
 */
export async function extractAccessToken(
  request: Request,
  options: { allowFormBody: boolean },
): Promise<PresentedToken> {
  const presented = extractAccessTokenNow(request, options)
  if (presented !== undefined) return presented
  // A form body that may hold `access_token`: read it.
  const fromHeader = headerToken(requestHeader(request, 'authorization'))
  const fromBody = await formBodyToken(request)
  if (fromHeader !== undefined && fromBody !== undefined) {
    throw malformed('the access token must be sent in exactly one place')
  }
  if (fromHeader !== undefined) return fromHeader
  if (fromBody === undefined) throw new AuthError('token_missing', 'an access token is required')
  return { token: fromBody, scheme: 'Bearer' }
}

/**
 * `extractAccessToken` without a promise when no body has to be read (a GET, or a body that is not a
 * form): the same answer or the same throw. Undefined when the body must be read: call
 * `extractAccessToken`.
 *
 * `isCached` (the verifier's L1 membership, `TokenVerifier.isCached`): a token the L1 holds verified
 * as a compact JWS, which is always a `b64token`, so its ~630-character shape scan is skipped; the
 * answer is the same.
 *
 * @example const presented = extractAccessTokenNow(c.req.raw, { allowFormBody: false })
 */
export function extractAccessTokenNow(
  request: Request,
  options: { allowFormBody: boolean },
  isCached?: (token: string) => boolean,
): PresentedToken | undefined {
  rejectQueryToken(request.url)
  if (options.allowFormBody && isFormBody(request)) return undefined
  const fromHeader = headerToken(requestHeader(request, 'authorization'), isCached)
  if (fromHeader === undefined) throw new AuthError('token_missing', 'an access token is required')
  return fromHeader
}

function rejectQueryToken(url: string): void {
  const q = url.indexOf('?')
  if (q === -1) return
  // URLSearchParams decodes names, so `access%5Ftoken` is caught too.
  if (new URLSearchParams(url.slice(q + 1)).has('access_token')) {
    throw malformed('access tokens are not accepted in the URI query (RFC 9700 §4.3.2)')
  }
}

/** `undefined` when there is no header or it names another scheme (Basic, ...). */
function headerToken(
  value: string | null,
  isCached?: (token: string) => boolean,
): PresentedToken | undefined {
  if (value === null) return undefined
  // The usual shapes, `Bearer <b64token>` / `DPoP <b64token>`, in one regex pass over the token (or
  // none for a token the L1 holds: it verified, so it has that shape).
  const usual: AuthScheme | undefined = value.startsWith('Bearer ')
    ? 'Bearer'
    : value.startsWith('DPoP ')
      ? 'DPoP'
      : undefined
  if (usual !== undefined) {
    const token = value.slice(usual.length + 1)
    if (isCached?.(token) === true || B64TOKEN.test(token)) return { token, scheme: usual }
  }
  const match = CREDENTIALS.exec(value)
  if (match === null) throw malformed('the Authorization header is malformed')
  // RFC 9110 §11.1: scheme names are case-insensitive.
  const name = match[1]!.toLowerCase()
  if (name !== 'bearer' && name !== 'dpop') return undefined
  const credentials = match[2]?.trim() ?? ''
  // Two tokens (`Bearer a b`), two headers joined by a comma, or an empty value all fail here.
  if (!B64TOKEN.test(credentials)) throw malformed('the Authorization header is malformed')
  return { token: credentials, scheme: name === 'dpop' ? 'DPoP' : 'Bearer' }
}

/** RFC 6750 §2.2: the body is `application/x-www-form-urlencoded` (parameters ignored). */
function isFormBody(request: Request): boolean {
  const type = requestHeader(request, 'content-type')
  return (
    type !== null &&
    type.split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded'
  )
}

/** RFC 6750 §2.2: single-part `application/x-www-form-urlencoded` body with one `access_token`. */
async function formBodyToken(request: Request): Promise<string | undefined> {
  let body: Uint8Array
  try {
    body = await readCappedBody(request, MAX_FORM_BODY_BYTES)
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw malformed('the request body is too large')
    if (e instanceof BodyIncompleteError) throw malformed('the request body could not be read')
    throw e
  }
  const params = new URLSearchParams(new TextDecoder().decode(body))
  const values = params.getAll('access_token')
  if (values.length === 0) return undefined
  if (values.length > 1 || !B64TOKEN.test(values[0]!)) {
    throw malformed('the access_token parameter is malformed')
  }
  return values[0]
}
