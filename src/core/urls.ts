/**
 * The one home of two URL rules used by every config, option and request check:
 *
 * - loopback: `localhost`, any IPv4 literal in 127.0.0.0/8 and `[::1]` (RFC 6761 §6.3, RFC 5735,
 *   RFC 4291 §2.5.3), the hosts only this machine can answer for;
 * - https except loopback: anything else over plain http could be read or swapped on the path (keys,
 *   tokens, redirects: RFC 8725 §3.10, RFC 9700 §2.6, OAuth 2.1 §1.5), so plain http is for local
 *   development only (RFC 8252 §7.3 allows it for loopback redirects).
 *
 * @example isHttpsOrLoopback(new URL('http://127.0.0.1:8788')) // true
 */

/** True for `localhost`, 127.0.0.0/8 and `[::1]` (a `URL`'s `hostname`, so IPv6 is bracketed). */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){2}$/.test(hostname)
  )
}

/** An absolute `http:` or `https:` URL, or `undefined` (never throws). */
export function parseHttpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined
  const url = new URL(value)
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined
}

/** https, or plain http to a loopback host. */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}

/** The message every check uses for a URL that breaks {@link isHttpsOrLoopback}. */
export const HTTPS_EXCEPT_LOOPBACK = 'must use https (http only for localhost, 127.0.0.0/8, [::1])'
