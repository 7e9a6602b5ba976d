import { describe, expect, it } from 'vitest'
import { clientAddress } from '../../../src/http/client-ip.ts'

describe('clientAddress', () => {
  it('trusts no header by default: the socket peer is the client', () => {
    expect(clientAddress('198.51.100.2', '203.0.113.9', 0)).toBe('198.51.100.2')
  })

  it('counts trusted hops back from the socket peer (edge -> ingress -> origin)', () => {
    // The edge set XFF to the client; ingress-nginx appended the edge's address.
    expect(clientAddress('10.0.0.7', '203.0.113.9, 198.51.100.2', 2)).toBe('203.0.113.9')
    expect(clientAddress('10.0.0.7', '203.0.113.9', 1)).toBe('203.0.113.9')
  })

  it('never uses what the client wrote left of our proxies', () => {
    // A client sent "X-Forwarded-For: 1.2.3.4"; one trusted proxy appended the real address.
    expect(clientAddress('10.0.0.7', '1.2.3.4, 203.0.113.9', 1)).toBe('203.0.113.9')
  })

  it('with fewer addresses than hops, takes the leftmost one our proxies wrote', () => {
    expect(clientAddress('10.0.0.7', null, 2)).toBe('10.0.0.7')
    expect(clientAddress('10.0.0.7', '203.0.113.9', 5)).toBe('203.0.113.9')
  })

  it('falls back to the socket peer for junk in the header', () => {
    expect(clientAddress('10.0.0.7', 'not-an-ip', 1)).toBe('10.0.0.7')
    expect(clientAddress('10.0.0.7', '2001:db8::1', 1)).toBe('2001:db8::1')
  })
})
