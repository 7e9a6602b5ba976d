/**
 * Strict JSON for JOSE: the text must be a JSON object and no object in it may repeat a member name.
 * RFC 7515 §5.2 step 4 and RFC 7519 §7.2 step 4: a JWS header with duplicate names must be rejected
 * (or only the last taken), and `JSON.parse` silently keeps the last one. Two parsers that disagree on
 * which duplicate wins is a classic signature-bypass shape, so we reject duplicates outright.
 *
 * How, after `JSON.parse`: text without a backslash (every token we mint, and most) by counting its
 * quotes against the names and strings of the parsed value (`stringsIn`); text with escapes by a
 * character scan that resolves them as `JSON.parse` does (`scanNames`).
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c

/**
 * Scans valid JSON `text` whose top level is an object. Returns the number of member names written
 * at the top level, or -1 if a nested object repeats a name. The caller compares the count with
 * `Object.keys(JSON.parse(text)).length`: since JSON.parse keeps one entry per distinct name, a
 * difference means a duplicate at the top level, with escapes (`"a"` vs `"\u0061"`) resolved exactly
 * as JSON.parse resolves them. Nested objects (rare in tokens) are checked with a Set of names.
 * The scan relies on `text` being valid JSON: it only tracks strings, brackets and commas.
 */
function scanNames(text: string): number {
  const kinds: number[] = [] // per open container: 1 object, 0 array
  const names: (Set<string> | undefined)[] = [] // per open nested object
  let topCount = 0
  let expectKey = false
  let nextBackslash = -2 // position of the next backslash at or after the scan point; -2: unknown
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      if (nextBackslash !== -1 && nextBackslash <= i) nextBackslash = text.indexOf('\\', i + 1)
      let end = text.indexOf('"', i + 1)
      const escaped = nextBackslash !== -1 && nextBackslash < end
      if (escaped) {
        // Slow path: walk the string honouring escapes to find the real closing quote.
        end = i + 1
        while (text.charCodeAt(end) !== QUOTE) end += text.charCodeAt(end) === BACKSLASH ? 2 : 1
      }
      if (expectKey) {
        expectKey = false
        if (kinds.length === 1) topCount++
        else {
          const name = escaped
            ? (JSON.parse(text.slice(i, end + 1)) as string)
            : text.slice(i + 1, end)
          const seen = (names[kinds.length - 1] ??= new Set())
          if (seen.has(name)) return -1
          seen.add(name)
        }
      }
      i = end
    } else if (c === OPEN_OBJECT) {
      kinds.push(1)
      names[kinds.length - 1] = undefined
      expectKey = true
    } else if (c === OPEN_ARRAY) {
      kinds.push(0)
      expectKey = false
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      kinds.pop()
      expectKey = false
    } else if (c === COMMA) {
      expectKey = kinds[kinds.length - 1] === 1
    }
  }
  return topCount
}

/**
 * True when some object in the JSON object text `text` repeats a member name (escapes resolved).
 *
 * @example hasDuplicateKeys('{"a":1,"\\u0061":2}') // true
 */
export function hasDuplicateKeys(text: string): boolean {
  return parseJsonObject(text) === undefined && isJsonObject(text)
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

/**
 * Parses `text` as a JSON object with unique member names at every depth; `undefined` for anything
 * else (invalid JSON, an array, a primitive, a duplicate name). Never throws.
 *
 * @example parseJsonObject('{"alg":"ES256"}') // { alg: 'ES256' }
 * @example parseJsonObject('{"a":1,"\\u0061":2}') // undefined
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  return parseJsonObjectWithQuotes(text, text.indexOf('\\') < 0 ? quotesIn(text) : -1)
}

/**
 * `parseJsonObject` for a caller that has counted the quotes of `text` already, e.g. over its UTF-8
 * bytes, where a `"` byte is always the character `"` (jws-scratch.ts counts them four bytes at a
 * time). `quotes` must be the number of `"` in `text` when `text` has no backslash, and -1 otherwise;
 * a wrong count could let a duplicate name through, so only such callers use this.
 *
 * @example parseJsonObjectWithQuotes('{"alg":"ES256"}', 4) // { alg: 'ES256' }
 */
export function parseJsonObjectWithQuotes(
  text: string,
  quotes: number,
): Record<string, unknown> | undefined {
  const value = parseObject(text)
  if (value === undefined) return undefined
  if (quotes >= 0) {
    const strings = stringsIn(value, 0)
    if (strings >= 0) return quotes === 2 * strings ? value : undefined
  }
  return uniqueByScan(text, value) ? value : undefined
}

function parseObject(text: string): Record<string, unknown> | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  return value as Record<string, unknown>
}

/** The character scan's answer (`scanNames`): any text, escapes resolved. */
function uniqueByScan(text: string, value: object): boolean {
  const count = scanNames(text)
  return count >= 0 && count === Object.keys(value).length
}

/** Past this depth the parsed value is not walked (`stringsIn` answers -1). */
const WALK_DEPTH_MAX = 16

/*
 * Telling duplicates by quotes, for text without a backslash. Every `"` in such valid JSON opens or
 * closes a string, so the text holds quotes / 2 strings, and each is a member name or a string
 * value. `JSON.parse` keeps every name and string value of the text except those of a repeated
 * member it overwrote (the earlier member's name and any strings in its value). So the names and
 * string values of the parsed value number quotes / 2 exactly when no object repeats a name, and
 * fewer when one does. Counting quotes with `indexOf` costs about half the character scan (issue
 * 15, cold verify); a text with escapes is scanned.
 */

/** The number of `"` in `text`. */
function quotesIn(text: string): number {
  let quotes = 0
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) quotes++
  return quotes
}

/**
 * Member names plus string values in a parsed JSON value; -1 past `WALK_DEPTH_MAX`. Objects are
 * walked with `for…in`, which also visits inherited enumerable members: none exist unless someone
 * put one on `Object.prototype` (the prototype of every object JSON.parse makes), and then the
 * count would come out too high and could hide a dropped duplicate, so `prototypeClean` sends such a
 * process to `Object.values` (own members only). `for…in` walks an access token's claims in about a
 * third of the time and allocates nothing (issue 15, cold verify).
 */
function stringsIn(value: unknown, depth: number): number {
  return prototypeClean() ? namesAndStrings(value, depth) : ownNamesAndStrings(value, depth)
}

function prototypeClean(): boolean {
  for (const name in Object.prototype) if (name !== '') return false
  return true
}

/** `stringsIn` for a clean `Object.prototype`. */
function namesAndStrings(value: unknown, depth: number): number {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? 1 : 0
  if (depth === WALK_DEPTH_MAX) return -1
  let count = 0
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = namesAndStrings(value[i], depth + 1)
      if (inner < 0) return -1
      count += inner
    }
    return count
  }
  for (const name in value) {
    const member = (value as Record<string, unknown>)[name]
    count += typeof member === 'string' ? 2 : 1
    if (typeof member === 'object' && member !== null) {
      const inner = namesAndStrings(member, depth + 1)
      if (inner < 0) return -1
      count += inner
    }
  }
  return count
}

/** `stringsIn` reading own members only. */
function ownNamesAndStrings(value: unknown, depth: number): number {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? 1 : 0
  if (depth === WALK_DEPTH_MAX) return -1
  const isArray = Array.isArray(value)
  const members: unknown[] = isArray ? value : Object.values(value)
  let count = isArray ? 0 : members.length
  for (let i = 0; i < members.length; i++) {
    const inner = ownNamesAndStrings(members[i], depth + 1)
    if (inner < 0) return -1
    count += inner
  }
  return count
}
