import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hasDuplicateKeys, parseJsonObject } from '../../../src/core/json.ts'

describe('parseJsonObject', () => {
  it.each([
    ['plain duplicate', '{"a":1,"a":2}'],
    ['escaped duplicate', '{"a":1,"\\u0061":2}'],
    ['escaped both ways', '{"\\u0061":1,"\\u0061":2}'],
    ['escaped quote in name', '{"a\\"b":1,"a\\"b":2}'],
    ['escaped solidus', '{"a/b":1,"a\\/b":2}'],
    ['nested', '{"x":{"a":1,"a":2}}'],
    ['inside an array', '{"x":[1,{"a":1,"a":2}]}'],
    ['after a nested object', '{"a":{"b":1},"a":2}'],
    ['with whitespace', '{ "a" : 1 ,\n "a" : 2 }'],
    ['the dropped value holds strings', '{"a":["x",{"y":"z"}],"b":"c","a":"w"}'],
    ['__proto__ twice', '{"__proto__":1,"__proto__":2}'],
    ['string values repeated too', '{"a":"v","a":"v"}'],
    ['nested deeper than the walk', `{"x":${'['.repeat(20)}{"a":1,"a":2}${']'.repeat(20)}}`],
    [
      'escaped duplicate nested deep',
      `{"x":${'['.repeat(20)}{"a":1,"\\u0061":2}${']'.repeat(20)}}`,
    ],
  ])('rejects a duplicate name: %s', (_why, text) => {
    expect(hasDuplicateKeys(text)).toBe(true)
    expect(parseJsonObject(text)).toBeUndefined()
  })

  it.each([
    ['same name at different depths', '{"a":{"a":{"a":1}}}'],
    ['same string values', '{"a":"a","b":"a"}'],
    ['strings in arrays', '{"a":["a","a",{"a":1}]}'],
    ['sibling objects', '{"x":[{"a":1},{"a":2}]}'],
    ['a string that looks like a key', '{"a":"\\",\\"a\\":1","b":1}'],
    ['names differing only by escape of another char', '{"a":1,"\\u0062":2}'],
    ['__proto__ once', '{"__proto__":{"a":1},"a":2}'],
    ['nested deeper than the walk', `{"x":${'['.repeat(20)}{"a":1,"b":"a"}${']'.repeat(20)}}`],
    ['empty names and strings', '{"":"","a":[""]}'],
  ])('accepts unique names: %s', (_why, text) => {
    expect(hasDuplicateKeys(text)).toBe(false)
    expect(parseJsonObject(text)).toEqual(JSON.parse(text))
  })

  it.each(['[]', '1', 'null', '"s"', 'true', '', '{', '{"a":1}x', '\uFEFF{}', "{'a':1}"])(
    'rejects anything but a JSON object: %j',
    (text) => expect(parseJsonObject(text)).toBeUndefined(),
  )

  it('agrees with JSON.parse on random objects (which cannot hold duplicates)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const text = JSON.stringify(value)
        expect(parseJsonObject(text)).toEqual(JSON.parse(text))
      }),
    )
  })

  // Text without a backslash is told by counting quotes against the parsed value (json.ts).
  const plainString = fc
    .string()
    .filter((x) => ![...x].some((ch) => ch === '"' || ch === '\\' || ch < ' '))
  const plainJson = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      plainString,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value')),
      fc.dictionary(plainString, tie('value')),
    ),
  })).value

  it('finds a duplicate injected at any depth of a random object without escapes', () => {
    fc.assert(
      fc.property(
        fc.dictionary(plainString, plainJson, { minKeys: 1 }),
        plainString,
        plainJson,
        fc.nat(),
        (value, name, dropped, pick) => {
          // Repeats a member of some object in `value` (the top level or one nested in it).
          const objects: Record<string, unknown>[] = []
          const collect = (v: unknown): void => {
            if (typeof v !== 'object' || v === null) return
            if (!Array.isArray(v)) objects.push(v as Record<string, unknown>)
            for (const inner of Object.values(v)) collect(inner)
          }
          collect(value)
          const target = objects[pick % objects.length] as Record<string, unknown>
          const marker = '\u0000marker'
          target[marker] = 0
          const text = JSON.stringify(value).replace(
            `"\\u0000marker":0`,
            () => `${JSON.stringify(name)}:${JSON.stringify(dropped)},${JSON.stringify(name)}:1`,
          )
          expect(text.includes('\\')).toBe(false)
          expect(parseJsonObject(text)).toBeUndefined()
          delete target[marker]
          const unique = JSON.stringify(value)
          expect(parseJsonObject(unique)).toEqual(JSON.parse(unique))
        },
      ),
    )
  })

  it('finds a duplicate injected anywhere in a random object, escaped or not', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
        fc.string({ minLength: 1 }),
        fc.boolean(),
        (value, name, escape) => {
          const body = JSON.stringify(value).slice(1, -1)
          const alias = escape
            ? `"${[...name].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`
            : JSON.stringify(name)
          const text = `{${JSON.stringify(name)}:1,${body}${body ? ',' : ''}${alias}:2}`
          expect(parseJsonObject(text)).toBeUndefined()
        },
      ),
    )
  })

  it('still finds duplicates when Object.prototype carries an enumerable member', () => {
    // Counted with it, the polluting name would stand in for the dropped duplicate's name.
    const prototype = Object.prototype as Record<string, unknown>
    prototype.polluted = 1
    try {
      expect(parseJsonObject('{"a":1,"a":2}')).toBeUndefined()
      expect(parseJsonObject('{"x":{"a":1,"a":2}}')).toBeUndefined()
      expect(parseJsonObject('{"a":1,"b":"c"}')).toEqual({ a: 1, b: 'c' })
    } finally {
      delete prototype.polluted
    }
  })
})
