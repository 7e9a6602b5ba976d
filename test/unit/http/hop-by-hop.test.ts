import { describe, expect, it } from 'vitest'
import { connectionNames, connectionOptions, isHopByHop } from '../../../src/http/hop-by-hop.ts'

describe('hop-by-hop fields (RFC 9110 §7.6.1)', () => {
  it('reads the names a Connection value lists, lower-cased, skipping what is not a token', () => {
    expect([...connectionNames('keep-alive, X-Hop,, bad header ,close')]).toEqual([
      'keep-alive',
      'x-hop',
      'close',
    ])
    expect(connectionNames('').size).toBe(0)
  })

  it('reads the same names from a header set, and nothing (no set) without Connection', () => {
    const value = 'Upgrade, X-Trace-Hop'
    expect(connectionOptions(new Headers({ Connection: value }))).toEqual(connectionNames(value))
    expect(connectionOptions(new Headers())).toBeUndefined()
  })

  it('drops the fixed list and the named fields, keeps the rest', () => {
    const named = connectionNames('X-Hop')
    expect(isHopByHop('proxy-connection', undefined)).toBe(true)
    expect(isHopByHop('x-hop', named)).toBe(true)
    expect(isHopByHop('x-hop', undefined)).toBe(false)
    expect(isHopByHop('x-kept', named)).toBe(false)
  })
})
