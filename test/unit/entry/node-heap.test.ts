import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../../../src/entry/node-heap.ts'

describe('heap growth policy (src/entry/node-heap.ts)', () => {
  it('bounds the old generation growth unless the command line sets its own', () => {
    expect(heapGrowthFlag([])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
    expect(heapGrowthFlag(['--experimental-strip-types'])).toBe('--heap-growing-percent=30')
    expect(heapGrowthFlag(['--heap-growing-percent=80'])).toBeUndefined()
    expect(heapGrowthFlag(['--heap_growing_percent=80'])).toBeUndefined()
    expect(heapGrowthFlag(['--heap-growing-percent', '80'])).toBeUndefined()
  })

  it.each([
    ['src/entry/node.ts', 'startNodeServer('],
    ['bench/lib/http-node-origin.ts', 'startNodeServer('],
  ])('%s applies it before it builds the app', async (file, build) => {
    const source = await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8')
    const applied = source.indexOf('\napplyHeapGrowthPolicy()\n')
    expect(applied).toBeGreaterThan(0)
    expect(applied).toBeLessThan(source.indexOf(build, source.indexOf('\n\n')))
  })
})
