import { describe, expect, it } from 'vitest'
import { forwardedRequestHeaders as pairs, type Hop } from '../../../src/http/forwarded-headers.ts'

/** The pairs as the next hop's `Request` takes them: through `Headers`. */
const forwardedRequestHeaders = (...args: Parameters<typeof pairs>) => {
  const { headers, bytes } = pairs(...args)
  return { headers: new Headers(headers), bytes, pairs: headers }
}

const hop: Hop = { clientIp: '203.0.113.7', proto: 'https', host: 'edge.test', requestId: 'r1' }
const OURS = {
  'x-forwarded-for': '203.0.113.7',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'edge.test',
  'x-request-id': 'r1',
  via: '1.1 gatehouse',
}

describe('forwardedRequestHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection (RFC 9110 §7.6.1)', () => {
    const incoming = new Headers({
      Connection: 'keep-alive, X-Hop, bad header',
      'Keep-Alive': 'timeout=5',
      'X-Hop': 'one hop only',
      TE: 'trailers',
      Trailer: 'X-T',
      Upgrade: 'websocket',
      'Proxy-Authorization': 'Basic abc',
      'Proxy-Connection': 'keep-alive',
      'Transfer-Encoding': 'chunked',
      'X-Kept': 'yes',
    })
    const { headers } = forwardedRequestHeaders(incoming, hop)
    expect(Object.fromEntries(headers)).toEqual({ 'x-kept': 'yes', ...OURS })
  })

  it("replaces every client-asserted forwarding header with this hop's own", () => {
    const incoming = new Headers({
      'X-Forwarded-For': '10.0.0.1',
      'X-Forwarded-Host': 'evil.test',
      'X-Forwarded-Proto': 'http',
      'X-Forwarded-Port': '1',
      'X-Forwarded-Prefix': '/admin',
      Forwarded: 'for=10.0.0.1;host=evil.test',
      'X-Real-IP': '10.0.0.1',
      'X-Client-IP': '10.0.0.1',
      'True-Client-IP': '10.0.0.1',
      'CF-Connecting-IP': '10.0.0.1',
      'X-Request-Id': 'client-chosen',
    })
    const { headers } = forwardedRequestHeaders(incoming, hop)
    expect(Object.fromEntries(headers)).toEqual(OURS)
  })

  it('drops what this hop handled: Host, Content-Length, Accept-Encoding, Expect', () => {
    const incoming = new Headers({
      Host: 'edge.test',
      'Content-Length': '12',
      'Accept-Encoding': 'gzip',
      Expect: '100-continue',
      Accept: 'application/json',
    })
    const { headers } = forwardedRequestHeaders(incoming, hop)
    expect(Object.fromEntries(headers)).toEqual({ accept: 'application/json', ...OURS })
  })

  it('sends no X-Forwarded-For when the client address is unknown or not an address', () => {
    const incoming = new Headers({ 'X-Forwarded-For': '1.2.3.4' })
    for (const clientIp of [undefined, '1.2.3.4, 5.6.7.8', 'evil.test'])
      expect(
        forwardedRequestHeaders(incoming, { ...hop, clientIp }).headers.has('x-forwarded-for'),
      ).toBe(false)
    const v6 = forwardedRequestHeaders(incoming, { ...hop, clientIp: '2001:db8::1' }).headers
    expect(v6.get('x-forwarded-for')).toBe('2001:db8::1')
  })

  it("appends this hop to the client's Via (RFC 9110 §7.6.3)", () => {
    const { headers } = forwardedRequestHeaders(new Headers({ Via: '1.1 cdn' }), hop)
    expect(headers.get('via')).toBe('1.1 cdn, 1.1 gatehouse')
  })

  it("applies the caller's drop rule, then sets the caller's headers over anything kept", () => {
    const incoming = new Headers({ 'X-Gatehouse-Subject': 'admin', Authorization: 'Bearer t' })
    const { headers } = forwardedRequestHeaders(
      incoming,
      hop,
      [['X-Gatehouse-Subject', 'user-1']],
      (name) => name.startsWith('x-gatehouse-') || name === 'authorization',
    )
    expect(Object.fromEntries(headers)).toEqual({ 'x-gatehouse-subject': 'user-1', ...OURS })
    // Without a drop rule the caller's field still replaces the kept one: one field, its value.
    const kept = forwardedRequestHeaders(
      new Headers({ Traceparent: 'client-chosen', Accept: '*/*' }),
      hop,
      [
        ['traceparent', '00-ours'],
        ['X-Two', 'a'],
        ['x-two', 'b'],
      ],
    )
    expect(kept.pairs.filter(([n]) => /^(traceparent|x-two)$/i.test(n))).toEqual([
      ['traceparent', '00-ours'],
      ['x-two', 'b'],
    ])
    expect(kept.bytes).toBe(kept.pairs.reduce((sum, [n, v]) => sum + n.length + v.length + 4, 0))
  })

  it('counts the header block as sent, so the caller can refuse what the next hop cannot take', () => {
    const small = forwardedRequestHeaders(new Headers({ a: 'b' }), hop).bytes
    const big = forwardedRequestHeaders(new Headers({ a: 'b', 'x-big': 'y'.repeat(10_000) }), hop)
    expect(big.bytes - small).toBe('x-big'.length + 10_000 + 4)
  })
})
