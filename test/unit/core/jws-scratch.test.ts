/**
 * The reused-buffer path (jws-scratch.ts) against the general path (jws.ts): it may leave a token
 * to the general path, but whatever it answers, the general path answers the same (same payload,
 * same signing input and signature bytes), and it answers every ASCII token the general path
 * accepts. Canonical base64url is told there from Node's lax decoder's byte count, so every ASCII
 * character (and a few that truncate to alphabet characters) is tried at every kind of place.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBase64UrlRangePortable } from '../../../src/core/base64url.ts'
import { AuthError } from '../../../src/core/errors.ts'
import { parseJsonObject } from '../../../src/core/json.ts'
import { parseJwsBody, splitCompactJws } from '../../../src/core/jws.ts'
import { lendJwsBody, parseJwsPayload, scratchEpoch } from '../../../src/core/jws-scratch.ts'
import { directBufferMethods, type NativeBytes } from '../../../src/core/native-buffer.ts'
import { defaultClaims, signObjects, signRaw } from './helpers.ts'

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url')
const HEADER = b64url('{"alg":"RS256","typ":"at+jwt"}')
const SIGNATURE = Buffer.alloc(64, 7).toString('base64url')

type Outcome =
  { ok: true; payload: unknown; signingInput: number[]; signature: number[] } | { ok: false }

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The answer with no `Buffer` in it: the JavaScript decoder, TextDecoder, parseJsonObject. */
function reference(token: string): Outcome {
  const dots = token.split('.')
  if (dots.length !== 3) return { ok: false }
  const dot2 = token.lastIndexOf('.')
  const payloadBytes = decodeBase64UrlRangePortable(token, token.indexOf('.') + 1, dot2)
  const signature = decodeBase64UrlRangePortable(token, dot2 + 1, token.length)
  if (payloadBytes === undefined || signature === undefined) return { ok: false }
  let text: string
  try {
    text = utf8.decode(payloadBytes)
  } catch {
    return { ok: false }
  }
  const payload = parseJsonObject(text)
  if (payload === undefined) return { ok: false }
  const signingInput = [...new TextEncoder().encode(token.slice(0, dot2))]
  return { ok: true, payload, signingInput, signature: [...signature] }
}

/** parseJwsBody's answer (on Node its payload goes through the reused buffer first). */
function general(token: string): Outcome {
  try {
    const [dot1, dot2] = splitCompactJws(token, 1 << 20)
    const body = parseJwsBody(token, dot1, dot2)
    return {
      ok: true,
      payload: body.payload,
      signingInput: [...body.signingInput],
      signature: [...body.signature],
    }
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError)
    return { ok: false }
  }
}

function lent(token: string): Outcome | undefined {
  let dots: [number, number]
  try {
    dots = splitCompactJws(token, 1 << 20)
  } catch {
    return undefined
  }
  const body = lendJwsBody(token, dots[0], dots[1])
  if (body === undefined) return undefined
  expect(body.epoch).toBe(scratchEpoch())
  return {
    ok: true,
    payload: body.payload,
    signingInput: [...body.signingInput],
    signature: [...body.signature],
  }
}

/** ASCII and no `+` or `/` anywhere (the header's are parseJwsHeader's to refuse). */
const isPlain = (s: string) => [...s].every((c) => c.charCodeAt(0) < 0x80 && !'+/'.includes(c))

/** The reused-buffer answer, if any, is the reference one; plain tokens it accepts get one. */
function expectSameAnswer(token: string) {
  const expected = reference(token)
  expect(general(token), token).toEqual(expected)
  const answer = lent(token)
  if (answer !== undefined) expect(answer, token).toEqual(expected)
  else if (expected.ok && isPlain(token)) expect.fail(`no answer for an accepted token: ${token}`)
}

// Non-ASCII characters whose low byte is an alphabet character, a quote or a backslash.
const TRUNCATING = ['\u0141', '\u0161', '\u0130', '\u012d', '\u015f', '\u0122', '\u015c']
const CHARACTERS = [
  ...Array.from({ length: 128 }, (_, code) => String.fromCharCode(code)),
  ...TRUNCATING,
  'é',
  '\ud800',
  '😀',
]

describe('Node’s per-encoding Buffer methods', () => {
  it('are used where Buffer has them, and only there', () => {
    expect(directBufferMethods(Buffer.alloc(8))).toBe(true)
    const plain = Object.assign(new Uint8Array(8), { write: () => 0 }) as unknown as NativeBytes
    expect(directBufferMethods(plain)).toBe(false)
  })
})

describe('lendJwsBody answers as parseJwsBody does', () => {
  const tokens = [
    signObjects({ typ: 'at+jwt' }, defaultClaims({ scope: 'a b', amr: ['pwd'] }), 'RS256'),
    signRaw('{"alg":"ES256"}', '{"a":"\\u00e9\\"","b":[1,{"c":null}]}'),
    signRaw('{"alg":"ES256"}', '{"name":"Zoë 😀","n":1e3}', 'ES256'),
    // Payload lengths 0..3 mod 4 and signatures that end in every trailing-bit case.
    `${HEADER}.${b64url('{}')}.${SIGNATURE}`,
    `${HEADER}.${b64url('{"a":1}')}.${SIGNATURE.slice(0, -1)}A`,
    `${HEADER}.${b64url('{"ab":1}')}.${Buffer.alloc(65, 1).toString('base64url')}`,
    `${HEADER}.${b64url('{"abc":1}')}.${Buffer.alloc(66, 1).toString('base64url')}`,
  ]

  it('for the tokens themselves', () => {
    for (const token of tokens) {
      expect(reference(token).ok).toBe(true)
      expectSameAnswer(token)
    }
  })

  it('with any character put in, swapped in or taken out anywhere in a segment', () => {
    for (const token of tokens) {
      const [dot1, dot2] = splitCompactJws(token, 1 << 20)
      const places = [0, 1, 2, dot1 - 1, dot1 + 1, dot1 + 2, (dot1 + dot2) >> 1, dot2 - 2]
      places.push(dot2 - 1, dot2 + 1, dot2 + 2, token.length - 2, token.length - 1, token.length)
      for (const at of places) {
        expectSameAnswer(token.slice(0, at) + token.slice(at + 1))
        for (const c of CHARACTERS) {
          expectSameAnswer(token.slice(0, at) + c + token.slice(at))
          expectSameAnswer(token.slice(0, at) + c + token.slice(at + 1))
        }
      }
    }
  })

  it('for random strings between the dots', () => {
    const segment = fc.string({
      unit: fc.constantFrom(...'ABCabc019-_+/= .\\"é\u0141'.split('')),
      maxLength: 40,
    })
    fc.assert(
      fc.property(segment, segment, (payload, signature) => {
        expectSameAnswer(`${HEADER}.${payload}.${signature}`)
        expectSameAnswer(`${HEADER}.${b64url(payload)}.${signature}`)
      }),
      { numRuns: 3000 },
    )
  })

  it('leaves a token longer than its buffer to the general path', () => {
    const long = `${HEADER}.${b64url(JSON.stringify({ pad: 'x'.repeat(9000) }))}.${SIGNATURE}`
    const [dot1, dot2] = splitCompactJws(long, 1 << 20)
    expect(lendJwsBody(long, dot1, dot2)).toBeUndefined()
    expect(general(long)).toEqual(reference(long))
    expect(reference(long).ok).toBe(true)
  })
})

/** JSON object text with names from a small set, so objects at every depth repeat names often. */
const objectText = fc.letrec<{ object: string; value: string }>((tie) => ({
  object: fc
    .array(
      fc.tuple(
        fc.constantFrom('a', 'b', 'é', '__proto__', '\\u0061', 'a"b'.replace('"', '\\"'), ''),
        tie('value'),
      ),
      { maxLength: 5 },
    )
    .map((members) => `{${members.map(([name, value]) => `"${name}":${value}`).join(',')}}`),
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('1', 'true', 'null', '"x"', '"a:b"', '"\\\\"', '"😀"', '"\\n"', '[]'),
    fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
    tie('object'),
  ),
}))

describe('duplicate member names in the payload (RFC 7515 §5.2, RFC 7519 §7.2)', () => {
  it('are refused exactly when parseJsonObject refuses them, at any length and depth', () => {
    fc.assert(
      fc.property(objectText.object, fc.constantFrom('', ' ', '  ', '   '), (text, pad) => {
        const json = `${pad}${text}`
        const token = `${HEADER}.${b64url(json)}.${SIGNATURE}`
        const [dot1, dot2] = splitCompactJws(token, 1 << 20)
        const expected = parseJsonObject(json)
        const viaScratch = lendJwsBody(token, dot1, dot2)?.payload
        const viaSegment = parseJwsPayload(token, dot1 + 1, dot2)
        expect(viaScratch).toEqual(expected)
        expect(viaSegment).toEqual(expected)
      }),
      { numRuns: 5000 },
    )
  })

  it('are told in a payload with more quotes than a byte lane of the count holds', () => {
    // 400 members with string values: 1,600 quotes, more than 255 per lane of the four-byte count.
    const members = Array.from({ length: 400 }, (_, i) => `"m${i}":"v${i}"`)
    const unique = `{${members.join(',')}}`
    const duplicate = `{${[...members, '"m7":"again"'].join(',')}}`
    for (const [json, expected] of [
      [unique, JSON.parse(unique)],
      [duplicate, undefined],
    ] as const) {
      const token = `${HEADER}.${b64url(json)}.${SIGNATURE}`
      const [dot1, dot2] = splitCompactJws(token, 1 << 20)
      expect(lendJwsBody(token, dot1, dot2)?.payload).toEqual(expected)
      expect(parseJwsPayload(token, dot1 + 1, dot2)).toEqual(expected)
    }
  })

  it('are found when the quote that tells them is in the last, unaligned bytes', () => {
    for (const pad of ['', ' ', '  ', '   ']) {
      const duplicate = `${pad}{"a":1,"a":"b"}`
      const token = `${HEADER}.${b64url(duplicate)}.${SIGNATURE}`
      const [dot1, dot2] = splitCompactJws(token, 1 << 20)
      expect(lendJwsBody(token, dot1, dot2)).toBeUndefined()
      expect(parseJwsPayload(token, dot1 + 1, dot2)).toBeUndefined()
      expect(reference(token).ok).toBe(false)
    }
  })
})
