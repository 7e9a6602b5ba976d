import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeBase64Url,
  decodeBase64UrlRange,
  decodeBase64UrlRangePortable,
  decodeBase64UrlView,
  encodeBase64Url,
  encodeBase64UrlText,
} from '../../../src/core/base64url.ts'

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes)

describe('base64url', () => {
  it('decodes the RFC 4648 §10 vectors without padding', () => {
    const vectors = {
      '': '',
      Zg: 'f',
      Zm8: 'fo',
      Zm9v: 'foo',
      Zm9vYg: 'foob',
      Zm9vYmE: 'fooba',
      Zm9vYmFy: 'foobar',
    }
    for (const [encoded, decoded] of Object.entries(vectors)) {
      expect(text(decodeBase64Url(encoded))).toBe(decoded)
      expect(encodeBase64Url(new TextEncoder().encode(decoded))).toBe(encoded)
    }
  })

  it.each([
    ['padding', 'Zg=='],
    ['single pad', 'Zm8='],
    ['standard alphabet +', 'a+8A'],
    ['standard alphabet /', 'a/8A'],
    ['space', 'Zm9 v'],
    ['newline', 'Zm9v\nZm9v'],
    ['tab', '\tZm9v'],
    ['length 1 mod 4', 'Zm9vY'],
    ['single char', 'Z'],
    ['non-zero trailing bits (2 chars)', 'Zh'],
    ['non-zero trailing bits (3 chars)', 'Zm9'],
    ['non-ASCII', 'Zm9é'],
    ['NUL', 'Zm9\u0000'],
    ['dot', 'Zm.v'],
    ['question mark (Wycheproof 372)', 'Zm9v?'],
  ])('rejects %s', (_why, input) => {
    expect(decodeBase64Url(input)).toBeUndefined()
  })

  it('decodes a range in place', () => {
    expect(text(decodeBase64UrlRange('xx.Zm9v.yy', 3, 7))).toBe('foo')
    expect(decodeBase64UrlRange('abc', 2, 1)).toBeUndefined()
  })

  it('round-trips random bytes and matches Node’s encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const encoded = encodeBase64Url(bytes)
        expect(encoded).toBe(Buffer.from(bytes).toString('base64url'))
        expect(decodeBase64Url(encoded)).toEqual(bytes)
      }),
    )
  })

  it('encodes text as BASE64URL(UTF8(text)), lone surrogates as U+FFFD like TextEncoder', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string(), (a, b) => {
        const text = a + b
        expect(encodeBase64UrlText(text)).toBe(encodeBase64Url(new TextEncoder().encode(text)))
      }),
    )
    expect(encodeBase64UrlText('\ud800')).toBe('77-9')
  })

  it('accepts only canonical encodings: decode(s) defined ⇒ encode(decode(s)) === s', () => {
    const alphabet = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .'.split(''),
    )
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: alphabet, maxLength: 40 }), fc.string({ maxLength: 40 })),
        (s) => {
          const decoded = decodeBase64Url(s)
          if (decoded !== undefined) expect(encodeBase64Url(decoded)).toBe(s)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('the JavaScript decoder (no Buffer) and the ones in use give the same answer for every input', () => {
    const alphabet = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .é\u0000'.split(''),
    )
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: alphabet, maxLength: 60 }), fc.string({ maxLength: 60 })),
        fc.nat(8),
        fc.nat(8),
        (s, cutStart, cutEnd) => {
          const start = Math.min(cutStart, s.length)
          const end = Math.max(start - 1, s.length - cutEnd)
          const inUse = decodeBase64UrlRange(s, start, end)
          const portable = decodeBase64UrlRangePortable(s, start, end)
          expect(inUse).toEqual(portable)
          if (inUse !== undefined) expect(inUse.buffer.byteLength).toBe(inUse.length)
          const view = decodeBase64UrlView(s, start, end)
          expect(view === undefined ? undefined : new Uint8Array(view)).toEqual(portable)
        },
      ),
      { numRuns: 5000 },
    )
  })
})
