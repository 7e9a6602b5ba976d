import { describe, expect, it } from 'vitest'
import { AuthError, type AuthErrorCode } from '../../../src/core/errors.ts'
import { parseCompactJws, parseCompactJwsRaw } from '../../../src/core/jws.ts'

const enc = (bytes: string | Uint8Array) => Buffer.from(bytes).toString('base64url')
const header = (value: unknown) => enc(JSON.stringify(value))
const SIG = enc(new Uint8Array(64))

function codeOf(fn: () => unknown): AuthErrorCode | undefined {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError)
    return (error as AuthError).code
  }
  return undefined
}

describe('parseCompactJws', () => {
  it('returns header, payload, the exact signing input and the signature bytes', () => {
    const h = header({ alg: 'ES256', kid: 'k' })
    const p = enc('{"sub":"x"}')
    const parsed = parseCompactJws(`${h}.${p}.${SIG}`)
    expect(parsed.header).toEqual({ alg: 'ES256', kid: 'k' })
    expect(parsed.payload).toEqual({ sub: 'x' })
    expect(Buffer.from(parsed.signingInput).toString('latin1')).toBe(`${h}.${p}`)
    expect(parsed.signature).toEqual(new Uint8Array(64))
  })

  it('the raw variant accepts any payload bytes, including none', () => {
    const h = header({ alg: 'ES256' })
    expect(parseCompactJwsRaw(`${h}..${SIG}`).payload).toEqual(new Uint8Array(0))
    expect(parseCompactJwsRaw(`${h}.${enc(new Uint8Array([0, 255]))}.${SIG}`).payload).toEqual(
      new Uint8Array([0, 255]),
    )
    expect(codeOf(() => parseCompactJws(`${h}..${SIG}`))).toBe('token_malformed')
  })

  it.each([
    ['header is an array', enc('[{"alg":"ES256"}]')],
    ['header is a string', enc('"ES256"')],
    ['header starts with a BOM', enc('\uFEFF{"alg":"ES256"}')],
    ['header is invalid UTF-8', enc(new Uint8Array([0x7b, 0xff, 0x7d]))],
    ['alg missing', header({ kid: 'k' })],
    ['alg empty', header({ alg: '' })],
    ['alg not a string', header({ alg: ['ES256'] })],
    ['kid not a string', header({ alg: 'ES256', kid: 1 })],
    ['typ not a string', header({ alg: 'ES256', typ: null })],
  ])('rejects a token whose %s', (_why, h) => {
    expect(codeOf(() => parseCompactJwsRaw(`${h}.${enc('{}')}.${SIG}`))).toBe('token_malformed')
  })

  it('checks the size before anything else, and only the size', () => {
    const long = `${'a'.repeat(9000)}`
    expect(codeOf(() => parseCompactJws(long))).toBe('token_too_large')
    expect(codeOf(() => parseCompactJws(long, 10_000))).toBe('token_malformed')
  })

  it('never treats inherited names as header members', () => {
    // "constructor" and "__proto__" exist on the prototype chain; only own members count.
    const h = enc('{"alg":"ES256","__proto__":{"jwk":1,"crit":[]},"constructor":1}')
    expect(parseCompactJwsRaw(`${h}.${enc('{}')}.${SIG}`).header.alg).toBe('ES256')
  })
})
