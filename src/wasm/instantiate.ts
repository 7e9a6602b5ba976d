// The part of the WebAssembly loader that both runtimes share: given the compiled sbbf.wasm module
// (read from disk on Node, imported as a CompiledWasm module on Workers), make filter stores whose
// blocks live in WebAssembly memory and whose probes run the SIMD kernel.
//
// Each store is its own instance with its own memory, sized once: page 0 is scratch for the key
// being probed or a batch of keys, the blocks follow from byte 65536. Memory never grows after that,
// so the views below stay valid and no probe allocates.

import type { SbbfBackend, SbbfStore } from '../revocation/filter-backend.ts'
import { typescriptSbbfBackend } from '../revocation/filter-typescript.ts'
import { utf8, writeUtf8 } from '../revocation/filter-backend.ts'
import { xxh64 } from '../revocation/filter-hash.ts'
import { BLOCK_BYTES } from '../revocation/filter-layout.ts'

/** The exports of src/wasm/assembly/sbbf.ts that the stores use. */
interface SbbfExports {
  readonly memory: WebAssembly.Memory
  setBlockCount(numBlocks: number): void
  insertKey(ptr: number, length: number): void
  probeKey(ptr: number, length: number): number
  insertHash(high: number, low: number): void
  probeHash(high: number, low: number): number
  insertBatch(dataPtr: number, endsPtr: number, count: number): void
}

const PAGE_BYTES = 65536
const BLOCKS_OFFSET = PAGE_BYTES
// A batch in the scratch page: BATCH_MAX u32 end offsets, then the keys back to back.
const BATCH_MAX = 2048
const BATCH_DATA = BATCH_MAX * 4
const REQUIRED_EXPORTS = [
  'memory',
  'setBlockCount',
  'insertKey',
  'probeKey',
  'insertHash',
  'probeHash',
  'insertBatch',
]

const longHash = new Uint32Array(2)

/** XXH64 of an id too long for the scratch page, computed in TypeScript (same function). */
function hashLong(id: string): void {
  const bytes = utf8(id)
  xxh64(bytes, bytes.length, longHash)
}

function createStore(module: WebAssembly.Module, numBlocks: number): SbbfStore {
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as SbbfExports
  const { memory, insertKey, probeKey, insertHash, probeHash, insertBatch } = exports
  const blockBytes = numBlocks * BLOCK_BYTES
  memory.grow(
    Math.ceil((BLOCKS_OFFSET + blockBytes) / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES,
  )
  exports.setBlockCount(numBlocks)
  const scratch = new Uint8Array(memory.buffer, 0, PAGE_BYTES)
  const batchEnds = new Uint32Array(memory.buffer, 0, BATCH_MAX)
  const batchData = new Uint8Array(memory.buffer, BATCH_DATA, PAGE_BYTES - BATCH_DATA)

  const insert = (id: string): void => {
    const n = writeUtf8(id, scratch, 0)
    if (n >= 0) {
      insertKey(0, n)
    } else {
      hashLong(id)
      insertHash(longHash[0] as number, longHash[1] as number)
    }
  }

  return {
    blocks: new Uint8Array(memory.buffer, BLOCKS_OFFSET, blockBytes),
    insert,
    // Keys are copied into WebAssembly memory once and hashed and inserted in one call per batch.
    insertMany(ids) {
      let count = 0
      let used = 0
      for (const id of ids) {
        let n = writeUtf8(id, batchData, used)
        if (n < 0 && count > 0) {
          insertBatch(BATCH_DATA, 0, count)
          count = 0
          used = 0
          n = writeUtf8(id, batchData, 0)
        }
        if (n < 0) {
          insert(id)
          continue
        }
        used += n
        batchEnds[count++] = used
        if (count === BATCH_MAX) {
          insertBatch(BATCH_DATA, 0, count)
          count = 0
          used = 0
        }
      }
      if (count > 0) insertBatch(BATCH_DATA, 0, count)
    },
    probe(id) {
      const n = writeUtf8(id, scratch, 0)
      if (n >= 0) return probeKey(0, n) !== 0
      hashLong(id)
      return probeHash(longHash[0] as number, longHash[1] as number) !== 0
    },
  }
}

/**
 * A filter backend running the WebAssembly SIMD kernel of `module` (sbbf.wasm, compiled by
 * `npm run build:wasm`). Throws if the module lacks the kernel's exports.
 *
 * @example
 * const backend = createWasmSbbfBackend(new WebAssembly.Module(readFileSync(wasmPath)))
 */
export function createWasmSbbfBackend(module: WebAssembly.Module): SbbfBackend {
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name))
  const missing = REQUIRED_EXPORTS.filter((name) => !names.has(name))
  if (missing.length > 0) {
    throw new Error(
      `sbbf.wasm lacks exports ${missing.join(', ')}: rebuild with npm run build:wasm`,
    )
  }
  return {
    implementation: 'wasm-simd',
    allocate: (numBlocks) => createStore(module, numBlocks),
  }
}

// The hot-path choice, one line. `npm run bench:revocation` (bench/results/revocation.json), 1M ids,
// Node 22, 2 shared cores: has() on fresh ids 155 ns WASM SIMD vs 578 ns TypeScript fallback (3.7x;
// 3.1x..9x across runs on the loaded machine) vs 469 ns Set.has; the kernel call alone is ~30 ns.
const PREFER_WASM = true

/**
 * The backend the hot path uses: the WebAssembly SIMD kernel when `module` is given (the runtime
 * compiled it, so it has SIMD), else the TypeScript fallback. `backend.implementation` says which.
 *
 * @example
 * const backend = selectSbbfBackend(sbbfModule)
 * backend.implementation // 'wasm-simd'
 */
export function selectSbbfBackend(module: WebAssembly.Module | undefined): SbbfBackend {
  return PREFER_WASM && module !== undefined ? createWasmSbbfBackend(module) : typescriptSbbfBackend
}
