/**
 * JSON text to a value, with a syntax error located by line and column (1-based) and named in words,
 * never by quoting the text: a config or keys file may hold private keys, and V8's `JSON.parse`
 * messages quote the input around the error (and give a position only for some errors).
 *
 * @example
 * const result = parseJsonText('{"a": 1,}')
 * // { ok: false, line: 1, column: 9, reason: 'expected a property name in double quotes' }
 */
export type JsonTextResult =
  { ok: true; value: unknown } | { ok: false; line: number; column: number; reason: string }

/** Parses `text`; on a syntax error, locates it. */
export function parseJsonText(text: string): JsonTextResult {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    const { offset, reason } = findSyntaxError(text)
    const before = text.slice(0, offset)
    const line = before.split('\n').length
    const column = offset - before.lastIndexOf('\n')
    return { ok: false, line, column, reason }
  }
}

/** `line L, column C: reason`, for messages. */
export const describeJsonError = (e: { line: number; column: number; reason: string }): string =>
  `line ${e.line}, column ${e.column}: ${e.reason}`

class Stop {
  readonly offset: number
  readonly reason: string
  constructor(offset: number, reason: string) {
    this.offset = offset
    this.reason = reason
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const LITERAL = /true|false|null/y
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const STRING_CHAR = /[^"\\\u0000-\u001f]+|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y

/** The first offset at which `text` stops being JSON (RFC 8259), and what was expected there. */
function findSyntaxError(text: string): { offset: number; reason: string } {
  let i = 0
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const fail = (reason: string): never => {
    throw new Stop(i, i >= text.length ? 'unexpected end of input' : reason)
  }
  const match = (re: RegExp): boolean => {
    re.lastIndex = i
    const m = re.exec(text)
    if (m === null || m[0] === '') return false
    i += m[0].length
    return true
  }
  const string = (): void => {
    i++ // opening quote
    for (;;) {
      if (text[i] === '"') return void i++
      if (i >= text.length) fail('unterminated string')
      if (!match(STRING_CHAR))
        fail(text[i] === '\\' ? 'invalid escape in a string' : 'control character in a string')
    }
  }
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply')
    space()
    const c = text[i]
    if (c === '{') {
      i++
      space()
      if (text[i] === '}') return void i++
      for (;;) {
        space()
        if (text[i] !== '"') fail('expected a property name in double quotes')
        string()
        space()
        if (text[i] !== ':') fail('expected ":" after a property name')
        i++
        value(depth + 1)
        space()
        if (text[i] === ',') i++
        else if (text[i] === '}') return void i++
        else fail('expected "," or "}" after a property value')
      }
    }
    if (c === '[') {
      i++
      space()
      if (text[i] === ']') return void i++
      for (;;) {
        value(depth + 1)
        space()
        if (text[i] === ',') i++
        else if (text[i] === ']') return void i++
        else fail('expected "," or "]" after an array element')
      }
    }
    if (c === '"') return string()
    if (match(NUMBER) || match(LITERAL)) return
    fail('expected a value (object, array, string, number, true, false or null)')
  }
  try {
    value(0)
    space()
    if (i < text.length) fail('unexpected text after the JSON value')
    // JSON.parse refused what this scanner accepts: report the end rather than guess.
    return { offset: text.length, reason: 'invalid JSON' }
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, reason: e.reason }
    throw e
  }
}
