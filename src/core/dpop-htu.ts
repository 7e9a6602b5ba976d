/**
 * The `htu` comparison of a DPoP proof (RFC 9449 §4.3 step 9): the proof's URI and the request's,
 * both without query and fragment, after syntax-based (RFC 3986 §6.2.2) and scheme-based (§6.2.3)
 * normalisation. The WHATWG URL parser already lowercases scheme and host, drops the default port,
 * removes dot segments and turns an empty path into `/`; what it leaves alone is the case of
 * percent-encoding hex digits and percent-encoded unreserved characters (§6.2.2.1, §6.2.2.2), done here.
 */

// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~" are never percent-encoded in a normal form.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/
const PERCENT = /%([0-9A-Fa-f]{2})/g

/** One percent-encoded octet in normal form: decoded when unreserved, else with upper-case hex. */
function normalOctet(_match: string, hex: string): string {
  const char = String.fromCharCode(parseInt(hex, 16))
  return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`
}

/**
 * The normal form of an http(s) URI for `htu` comparison: `scheme://host[:port]/path`, with no
 * query, fragment or user information. `undefined` for anything that is not an absolute http(s) URI
 * or that carries user information (no request target has it, RFC 9110 §4.2.4).
 *
 * @example normaliseHtu('HTTPS://API.Example:443/a/./b/%7euser?q=1') // 'https://api.example/a/b/~user'
 */
export function normaliseHtu(value: string): string | undefined {
  if (typeof value !== 'string' || value.length > 8192 || !URL.canParse(value)) return undefined
  const url = new URL(value)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  return `${url.protocol}//${url.host}${url.pathname.replace(PERCENT, normalOctet)}`
}
