/**
 * The Node origin's log sink batches the lines of one event-loop turn into one write, and never holds
 * more than 64 KiB back.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchedLineWriter, FLUSH_DELAY_MS } from '../../../src/entry/node-log-sink.ts'

function collector() {
  const chunks: string[] = []
  return { chunks, stream: { write: (chunk: string) => chunks.push(chunk) > 0 } }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('batchedLineWriter', () => {
  it('writes the lines of a batch together, in order, FLUSH_DELAY_MS after the first one', () => {
    vi.useFakeTimers()
    const { chunks, stream } = collector()
    const write = batchedLineWriter(stream)
    write('{"n":1}')
    vi.advanceTimersByTime(FLUSH_DELAY_MS - 1)
    write('{"n":2}')
    expect(chunks).toEqual([])
    vi.advanceTimersByTime(1)
    expect(chunks).toEqual(['{"n":1}\n{"n":2}\n'])
    write('{"n":3}')
    vi.advanceTimersByTime(FLUSH_DELAY_MS)
    expect(chunks).toEqual(['{"n":1}\n{"n":2}\n', '{"n":3}\n'])
    vi.advanceTimersByTime(10 * FLUSH_DELAY_MS)
    expect(chunks).toHaveLength(2)
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
