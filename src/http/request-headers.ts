/**
 * Reading a request header on the hot path without the `Request`'s `Headers`.
 *
 * On `@hono/node-server`, `request.headers.get(name)` goes through its lightweight `Headers`: the name
 * checked by a regular expression and lower-cased, the raw header list copied, and the value scanned
 * by another regular expression (for CR, LF, NUL, which Node's parser never lets through) — for
 * `Authorization`, ~630 characters of token per request (issue 15); iterating it builds a full
 * `Headers` from the raw list and then a sorted copy of it. Node's parser has already split the
 * header fields (`IncomingMessage.rawHeaders`, values trimmed); the request's record keeps them
 * (request-record.ts), and these read them with Fetch's semantics: every field of a name, joined with
 * ", " in order ("; " for `Cookie`), or null; iteration in Fetch's order. Anywhere else (workerd,
 * `app.request()`, a request no observer opened a record for) it is the request's own `Headers`.
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
  return raw === undefined ? request.headers.get(name) : rawField(raw, name)
}

/** What the forwarder and the body checks read of a request's header fields. */
export interface HeaderFields {
  get(name: Lowercase<string>): string | null
  has(name: Lowercase<string>): boolean
  /** Fetch's order: lower-case names, sorted; a repeated field joined (`Set-Cookie` kept apart). */
  [Symbol.iterator](): Iterator<[string, string]>
}

/**
 * The request's header fields, answering as its `Headers` would: on Node from the parsed fields (no
 * `Headers` built), elsewhere its `Headers` itself (round 7, issue 15: the gateway iterated them).
 *
 * @example for (const [name, value] of requestHeaderFields(c.req.raw)) { ... }
 */
export function requestHeaderFields(request: Request): HeaderFields {
  const raw = recordOf(request)?.rawHeaders
  return raw === undefined ? request.headers : new RawHeaderFields(raw)
}

class RawHeaderFields implements HeaderFields {
  readonly #raw: readonly string[]
  constructor(raw: readonly string[]) {
    this.#raw = raw
  }
  get(name: Lowercase<string>): string | null {
    return rawField(this.#raw, name)
  }
  has(name: Lowercase<string>): boolean {
    return rawField(this.#raw, name) !== null
  }
  [Symbol.iterator](): Iterator<[string, string]> {
    return inFetchOrder(this.#raw)[Symbol.iterator]()
  }
}

/** Fetch joins a repeated `Cookie` with "; ", every other field with ", " (Set-Cookie: apart). */
const separatorOf = (name: string): string => (name === 'cookie' ? '; ' : ', ')

/** The value of the lower-case `name` in a raw list: its fields joined, or null. */
function rawField(raw: readonly string[], name: string): string | null {
  let value: string | null = null
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i] as string
    if (field.length === name.length && (field === name || field.toLowerCase() === name)) {
      const part = trimmed(raw[i + 1] as string)
      value = value === null ? part : value + separatorOf(name) + part
    }
  }
  return value
}

/**
 * A raw list as `Headers` iterates it (Fetch's "sort and combine"): lower-case names in code-unit
 * order, the fields of one name joined in the order they came, `Set-Cookie` fields one by one;
 * HTTP/2 pseudo-fields (`:path`) are not header fields. Sorted first, so joining is one pass, and
 * hostile requests with thousands of fields cost n log n.
 */
function inFetchOrder(raw: readonly string[]): [string, string][] {
  const fields: [string, string][] = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.charCodeAt(0) === 58 /* ':' */) continue
    fields.push([name.toLowerCase(), trimmed(raw[i + 1] as string)])
  }
  sortByName(fields)
  let kept = 0
  for (const field of fields) {
    const last = fields[kept - 1]
    if (last !== undefined && last[0] === field[0] && field[0] !== 'set-cookie')
      last[1] = last[1] + separatorOf(field[0]) + field[1]
    else fields[kept++] = field
  }
  fields.length = kept
  return fields
}

/**
 * Sorts by name, stably (the fields of one name keep their order): by insertion for the usual few
 * fields (`Array.prototype.sort` allocates its merge state on every call), else by `sort`.
 */
function sortByName(fields: [string, string][]): void {
  if (fields.length > 32) {
    fields.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    return
  }
  for (let i = 1; i < fields.length; i++) {
    const field = fields[i] as [string, string]
    let j = i - 1
    while (j >= 0 && (fields[j] as [string, string])[0] > field[0]) {
      fields[j + 1] = fields[j] as [string, string]
      j--
    }
    fields[j + 1] = field
  }
}

/** Without leading and trailing HTTP whitespace (Fetch's value normalisation; Node trims already). */
function trimmed(value: string): string {
  const first = value.charCodeAt(0)
  const last = value.charCodeAt(value.length - 1)
  if (!isHttpWhitespace(first) && !isHttpWhitespace(last)) return value
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '')
}

function isHttpWhitespace(code: number): boolean {
  return code === 9 || code === 10 || code === 13 || code === 32
}
