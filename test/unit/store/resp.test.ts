import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeCommand, RespError, RespParser, type RespValue } from '../../../scripts/lib/resp.ts'

/** Serialise a reply the way redis-server does, to feed the parser. */
function encodeReply(value: RespValue): Buffer {
  if (value === null) return Buffer.from('$-1\r\n')
  if (typeof value === 'number') return Buffer.from(`:${value}\r\n`)
  if (typeof value === 'string') return Buffer.from(`+${value}\r\n`)
  if (value instanceof RespError) return Buffer.from(`-${value.message}\r\n`)
  if (Buffer.isBuffer(value)) {
    return Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')])
  }
  return Buffer.concat([Buffer.from(`*${value.length}\r\n`), ...value.map(encodeReply)])
}

const line = fc.string({ unit: 'grapheme-ascii', maxLength: 20 }).filter((s) => !/[\r\n]/.test(s))
const reply: fc.Arbitrary<RespValue> = fc.letrec<{ value: RespValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    line,
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.integer(),
    fc.constant(null),
    line.map((s) => new RespError(`ERR ${s}`)),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
})).value

describe('RESP parser', () => {
  it('parses any sequence of replies, however the bytes are split into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat()),
        (replies, cuts) => {
          const bytes = Buffer.concat(replies.map(encodeReply))
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
          const parser = new RespParser()
          const out: RespValue[] = []
          let from = 0
          for (const at of [...points, bytes.length]) {
            out.push(...parser.push(bytes.subarray(from, at)))
            from = at
          }
          expect(out).toEqual(replies)
        },
      ),
    )
  })

  it('reads null arrays and rejects garbage', () => {
    expect(new RespParser().push(Buffer.from('*-1\r\n'))).toEqual([null])
    expect(() => new RespParser().push(Buffer.from('?what\r\n'))).toThrow(/protocol/)
    expect(() => new RespParser().push(Buffer.from('$-5\r\n'))).toThrow(/protocol/)
  })

  it('encodes arguments as binary-safe bulk strings with byte lengths', () => {
    expect(encodeCommand(['SET', 'clé', Buffer.from([0, 13, 10])]).toString('latin1')).toBe(
      '*3\r\n$3\r\nSET\r\n$4\r\ncl\u00c3\u00a9\r\n$3\r\n\u0000\r\n\r\n',
    )
  })
})
