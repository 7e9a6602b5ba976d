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
})
