/**
 * Pulls client credentials out of a token/revocation/introspection request (RFC 6749 §2.3.1):
 * HTTP Basic with form-urlencoded id and secret, or `client_id`/`client_secret` in the body, or a bare
 * `client_id` (public clients, `none`). Using two methods at once is refused (RFC 6749 §2.3).
 *
 * @example const credentials = clientCredentialsFrom(request.headers.get('authorization'), form)
 */
import type { ClientCredentials } from '../../core/oauth/clients.ts'
import { OAuthError } from '../../core/oauth/errors.ts'
import { param } from '../../core/oauth/params.ts'

const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i

/** Fatal: credentials that are not UTF-8 are refused, not repaired (RFC 7617 §2.1 charset). */
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The bytes of an `atob` result. A plain loop: `Uint8Array.from` with a mapper costs ~3 µs here. */
function binaryBytes(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** A byte above 0x7F in an `atob` result (whose characters are bytes): not plain ASCII. */
const NON_ASCII = /[\u0080-\u00ff]/

/** The UTF-8 text of an `atob` result (each character one byte); throws on invalid UTF-8. */
function utf8Text(binary: string): string {
  // ASCII bytes are their own UTF-8 text: the usual id and secret skip the byte copy and decoder.
  return NON_ASCII.test(binary) ? utf8.decode(binaryBytes(binary)) : binary
}

function formDecode(value: string): string | undefined {
  // Without '%' or '+' there is nothing to decode (decodeURIComponent would return the same string).
  if (!value.includes('%') && !value.includes('+')) return value
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/**
 * The credentials from the `Authorization` header's value (null when absent) and the form;
 * `invalid_request` for mixed methods, `invalid_client` when none or malformed.
 */
export function clientCredentialsFrom(
  authorization: string | null,
  form: URLSearchParams,
): ClientCredentials {
  const bodyId = param(form, 'client_id', 256)
  const bodySecret = param(form, 'client_secret', 1024)
  if (authorization !== null && /^basic\b/i.test(authorization)) {
    if (bodySecret !== undefined)
      throw new OAuthError('invalid_request', 'Use one client authentication method only.')
    const match = BASIC.exec(authorization)
    let decoded: string | undefined
    try {
      decoded = match?.[1] === undefined ? undefined : utf8Text(atob(match[1]))
    } catch {
      decoded = undefined
    }
    const colon = decoded?.indexOf(':') ?? -1
    const id = decoded === undefined || colon < 0 ? undefined : formDecode(decoded.slice(0, colon))
    const secret =
      decoded === undefined || colon < 0 ? undefined : formDecode(decoded.slice(colon + 1))
    if (!id || secret === undefined || id.length > 256 || secret.length > 1024)
      throw new OAuthError('invalid_client', 'Client authentication failed.')
    if (bodyId !== undefined && bodyId !== id)
      throw new OAuthError('invalid_request', 'Use one client authentication method only.')
    return { method: 'client_secret_basic', clientId: id, clientSecret: secret }
  }
  if (bodyId === undefined) throw new OAuthError('invalid_client', 'Client authentication failed.')
  if (bodySecret !== undefined)
    return { method: 'client_secret_post', clientId: bodyId, clientSecret: bodySecret }
  return { method: 'none', clientId: bodyId }
}
