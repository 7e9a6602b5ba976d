/**
 * Strict JSON for JOSE: the text must be a JSON object and no object in it may repeat a member name.
 * RFC 7515 §5.2 step 4 and RFC 7519 §7.2 step 4: a JWS header with duplicate names must be rejected
 * (or only the last taken), and `JSON.parse` silently keeps the last one. Two parsers that disagree on
 * which duplicate wins is a classic signature-bypass shape, so we reject duplicates outright.
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
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const count = scanNames(text)
  if (count < 0 || count !== Object.keys(value).length) return undefined
  return value as Record<string, unknown>
}
