import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import {
  HEAP_GROWING_PERCENT,
  MALLOC_ARENA_MAX,
  heapGrowthFlag,
  mallocArenaEnv,
} from '../../../src/entry/node-heap.ts'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks } from '../../fixtures/keys.ts'
import { startOriginProcess } from '../../support/node-process.ts'

describe('heap growth policy (src/entry/node-heap.ts)', () => {
  it('bounds the old generation growth unless the command line sets its own', () => {
    expect(heapGrowthFlag([])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
    expect(heapGrowthFlag(['--experimental-strip-types'])).toBe('--heap-growing-percent=30')
    expect(heapGrowthFlag(['--heap-growing-percent=80'])).toBeUndefined()
    expect(heapGrowthFlag(['--heap_growing_percent=80'])).toBeUndefined()
    expect(heapGrowthFlag(['--heap-growing-percent', '80'])).toBeUndefined()
  })
})

describe('both memory policies (applyMemoryPolicies, src/entry/node-heap.ts)', () => {
  it.each(['src/entry/node.ts', 'bench/lib/http-node-origin.ts'])(
    '%s applies both policies first, before any module of the app is imported',
    async (file) => {
      const source = await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8')
      const applied = source.indexOf('\napplyMemoryPolicies()\n')
      expect(applied).toBeGreaterThan(0)
      expect(applied).toBeLessThan(source.indexOf('startNodeServer(', source.indexOf('\n\n')))
      // Only node-heap.ts and types are imported statically; the app comes after, dynamically.
      const staticImports = [...source.matchAll(/^import (?!type ).*from '([^']+)'/gm)].map(
        (m) => m[1],
      )
      expect(staticImports).toEqual([
        file.startsWith('src/') ? './node-heap.ts' : '../../src/entry/node-heap.ts',
      ])
      expect(source.indexOf("import('")).toBeGreaterThan(applied)
    },
  )

  it('applies the malloc arenas before the heap growth (the first may re-execute the process)', async () => {
    const source = await readFile(
      new URL('../../../src/entry/node-heap.ts', import.meta.url),
      'utf8',
    )
    const body = source.slice(source.indexOf('export function applyMemoryPolicies'))
    expect(body.indexOf('applyMallocArenaPolicy()')).toBeGreaterThan(0)
    expect(body.indexOf('applyMallocArenaPolicy()')).toBeLessThan(
      body.indexOf('applyHeapGrowthPolicy()'),
    )
  })
})

describe('malloc arena policy (src/entry/node-heap.ts)', () => {
  it('asks for at most two glibc arenas on Linux unless the environment sets its own', () => {
    expect(MALLOC_ARENA_MAX).toBe('2')
    expect(mallocArenaEnv({ PATH: '/bin' }, 'linux')).toEqual({
      PATH: '/bin',
      MALLOC_ARENA_MAX: '2',
    })
    // The operator's value, and our own after the re-execution: no second re-execution.
    expect(mallocArenaEnv({ MALLOC_ARENA_MAX: '8' }, 'linux')).toBeUndefined()
    expect(mallocArenaEnv({ MALLOC_ARENA_MAX: '2' }, 'linux')).toBeUndefined()
    expect(mallocArenaEnv({ PATH: '/bin' }, 'darwin')).toBeUndefined()
    expect(mallocArenaEnv({ PATH: '/bin' }, 'win32')).toBeUndefined()
  })

  const env = {
    GATEHOUSE_ISSUER: TEST_ISSUER,
    GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
    GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
  }
  /** The variable as the running process's environment holds it (/proc/<pid>/environ). */
  async function arenaMaxOf(pid: number): Promise<string | undefined> {
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')
    return environ.find((v) => v.startsWith('MALLOC_ARENA_MAX='))?.slice('MALLOC_ARENA_MAX='.length)
  }

  it('the origin process runs with it (same PID), and with the operator’s own value when set', async () => {
    const origin = await startOriginProcess(env)
    try {
      expect(await arenaMaxOf(origin.child.pid as number)).toBe(MALLOC_ARENA_MAX)
      expect((await fetch(`${origin.url}/healthz`)).status).toBe(200)
    } finally {
      await origin.stop()
    }
    const own = await startOriginProcess({ ...env, MALLOC_ARENA_MAX: '4' })
    try {
      expect(await arenaMaxOf(own.child.pid as number)).toBe('4')
    } finally {
      await own.stop()
    }
  })
})
