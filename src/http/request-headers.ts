/**
 * Reading a request header on the hot path without the `Request`'s `Headers`.
 *
 * On `@hono/node-server`, `request.headers.get(name)` goes through its lightweight `Headers`: the name
 * checked by a regular expression and lower-cased, the raw header list copied, and the value scanned
 * by another regular expression (for CR, LF, NUL, which Node's parser never lets through) — for
 * `Authorization`, ~630 characters of token per request (issue 15). Node's parser has already split
 * the header fields (`IncomingMessage.rawHeaders`, values trimmed); the request's record keeps them
 * (request-record.ts), and this reads one field from them with Fetch's semantics: every field of that
 * name, joined with ", " in order, or null. Anywhere else (workerd, `app.request()`, a request no
 * observer opened a record for) it is `request.headers.get(name)`.
 */
import { recordOf } from './request-record.ts'

/**
 * `request.headers.get(name)` for a lower-case `name`, from Node's parsed fields when the request's
 * record has them.
 *
 * @example const authorization = requestHeader(c.req.raw, 'authorization')
 */
export function requestHeader(request: Request, name: Lowercase<string>): string | null {
  const raw = recordOf(request)?.rawHeaders
  if (raw === undefined) return request.headers.get(name)
  let value: string | null = null
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i] as string
    if (field.length === name.length && (field === name || field.toLowerCase() === name)) {
      const part = raw[i + 1] as string
      value = value === null ? part : `${value}, ${part}`
    }
  }
  return value
}
