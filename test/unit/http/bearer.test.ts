import { describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import { MAX_FORM_BODY_BYTES, extractAccessToken } from '../../../src/http/bearer.ts'

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln'

async function codeOf(request: Request, allowFormBody = true): Promise<string> {
  try {
    await extractAccessToken(request, { allowFormBody })
  } catch (err) {
    if (err instanceof AuthError) return err.code
    throw err
  }
  return 'ok'
}

const form = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request('http://x/verify', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body,
  })

describe('extractAccessToken', () => {
  it('takes the token from the header, scheme case-insensitive (RFC 7235 §2.1)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const req = new Request('http://x/', { headers: { Authorization: `${scheme}  ${TOKEN}` } })
      expect(await extractAccessToken(req, { allowFormBody: false })).toEqual({
        token: TOKEN,
        scheme: 'Bearer',
      })
    }
  })

  it('takes a DPoP-scheme token and says so (RFC 9449 §7.1)', async () => {
    for (const scheme of ['DPoP', 'dpop']) {
      const req = new Request('http://x/', { headers: { Authorization: `${scheme} ${TOKEN}` } })
      expect(await extractAccessToken(req, { allowFormBody: false })).toEqual({
        token: TOKEN,
        scheme: 'DPoP',
      })
    }
  })

  it('classifies each shape of header', async () => {
    const cases: [string, string][] = [
      ['Basic dXNlcjpwYXNz', 'token_missing'],
      ['Negotiate abc', 'token_missing'],
      ['DPoP', 'request_malformed'],
      [`DPoP ${TOKEN} ${TOKEN}`, 'request_malformed'],
      ['Bearer', 'request_malformed'],
      ['Bearer ', 'request_malformed'],
      [`Bearer ${TOKEN} ${TOKEN}`, 'request_malformed'],
      [`Bearer ${TOKEN}, Bearer ${TOKEN}`, 'request_malformed'],
      ['Bearer a=b', 'request_malformed'],
      ['(bad scheme) x', 'request_malformed'],
    ]
    for (const [header, code] of cases) {
      const req = new Request('http://x/', { headers: { Authorization: header } })
      expect([header, await codeOf(req, false)]).toEqual([header, code])
    }
  })

  it('ignores the form body where it is not allowed and when the type is not a form', async () => {
    expect(await codeOf(form(`access_token=${TOKEN}`), false)).toBe('token_missing')
    const json = new Request('http://x/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ access_token: TOKEN }),
    })
    expect(await codeOf(json)).toBe('token_missing')
  })

  it('refuses an oversized form body without reading it all', async () => {
    const big = `access_token=${TOKEN}&pad=${'x'.repeat(MAX_FORM_BODY_BYTES)}`
    expect(await codeOf(form(big))).toBe('request_malformed')
    // A streamed body with no Content-Length is cut off at the limit too.
    const chunk = new TextEncoder().encode('x'.repeat(1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent++
        controller.enqueue(chunk)
      },
    })
    const req = new Request('http://x/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    expect(await codeOf(req)).toBe('request_malformed')
    expect(sent).toBeLessThan(MAX_FORM_BODY_BYTES / 1024 + 4)
  })

  it('rejects an empty access_token parameter', async () => {
    expect(await codeOf(form('access_token='))).toBe('request_malformed')
  })
})
