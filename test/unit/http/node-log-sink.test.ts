/**
 * The Node origin's log sink batches the lines of one event-loop turn into one write, and never holds
 * more than 64 KiB back.
 */
import { describe, expect, it } from 'vitest'
import { batchedLineWriter } from '../../../src/entry/node-log-sink.ts'

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

function collector() {
  const chunks: string[] = []
  return { chunks, stream: { write: (chunk: string) => chunks.push(chunk) > 0 } }
}

describe('batchedLineWriter', () => {
  it('writes the lines of one turn together, in order, at the end of the turn', async () => {
    const { chunks, stream } = collector()
    const write = batchedLineWriter(stream)
    write('{"n":1}')
    write('{"n":2}')
    expect(chunks).toEqual([])
    await nextTurn()
    expect(chunks).toEqual(['{"n":1}\n{"n":2}\n'])
    write('{"n":3}')
    await nextTurn()
    expect(chunks).toEqual(['{"n":1}\n{"n":2}\n', '{"n":3}\n'])
  })

  it('writes at once when 64 KiB are pending', () => {
    const { chunks, stream } = collector()
    const write = batchedLineWriter(stream)
    const line = 'x'.repeat(1023)
    for (let i = 0; i < 64; i++) write(line)
    expect(chunks).toHaveLength(1)
    expect(chunks[0]).toBe(`${line}\n`.repeat(64))
  })
})
