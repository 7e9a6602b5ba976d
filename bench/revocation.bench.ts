// Revocation filter benchmark (DESIGN.md, Performance targets): 1M revoked ids in a split-block Bloom
// filter, measured side by side with the TypeScript fallback and a JS Set of the same ids.
//
//   npm run bench:revocation      (node --expose-gc; writes bench/results/revocation.json)
//
// Probes walk 1M distinct ids in order, so each probe touches a cold block as a real request would;
// timings are the median of several rounds, with the implementations interleaved in each round.

import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createRevocationFilter, loadRevocationFilter } from '../src/revocation/filter.ts'
import type { RevocationFilter } from '../src/revocation/filter.ts'
import { writeUtf8 } from '../src/revocation/filter-backend.ts'
import { xxh64 } from '../src/revocation/filter-hash.ts'
import { typescriptSbbfBackend } from '../src/revocation/filter-typescript.ts'
import { loadSbbfBackend } from '../src/wasm/load-node.ts'

const N = 1_000_000
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:revocation)')

function heap(): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const SAMPLE = 50_000
let blackhole = 0 // keeps probe results observably used
const SAMPLES = 30

/**
 * ns per call of each probe over `ids`: SAMPLES samples of SAMPLE consecutive ids each (walking
 * through all of `ids`), the probes interleaved sample by sample so drift and other load on this
 * shared machine hit them alike; the median sample is reported, after one warm-up pass each.
 */
function interleaved<T>(
  ids: readonly T[],
  probes: Record<string, (id: T) => boolean>,
): Record<string, { ns: number; hits: number }> {
  const entries = Object.entries(probes)
  const samples = new Map<string, number[]>(entries.map(([name]) => [name, []]))
  const hits = new Map<string, number>()
  for (const [name, probe] of entries) {
    let count = 0
    for (let i = 0; i < ids.length; i++) if (probe(ids[i] as T)) count++
    hits.set(name, count)
  }
  let from = 0
  for (let sample = 0; sample < SAMPLES; sample++) {
    const to = Math.min(from + SAMPLE, ids.length)
    for (const [name, probe] of entries) {
      let sink = 0
      const start = process.hrtime.bigint()
      for (let i = from; i < to; i++) if (probe(ids[i] as T)) sink++
      samples.get(name)?.push(Number(process.hrtime.bigint() - start) / (to - from))
      blackhole += sink
    }
    from = to === ids.length ? 0 : to
  }
  return Object.fromEntries(
    entries.map(([name]) => [
      name,
      { ns: median(samples.get(name) ?? []), hits: hits.get(name) ?? 0 },
    ]),
  )
}

// crypto.randomUUID() returns a rope of ~20 concatenated pieces; ids parsed from a JWT are flat strings,
// so flatten them (a latin1 round trip) before measuring memory or probes.
const flatUuid = (): string => Buffer.from(crypto.randomUUID(), 'latin1').toString('latin1')
const h0 = heap()
const revoked = Array.from({ length: N }, flatUuid)
const h1 = heap()
const fresh = Array.from({ length: N }, flatUuid)

// --- build
const wasmBackend = loadSbbfBackend()
let t = performance.now()
const wasm = createRevocationFilter({
  expectedItems: N,
  falsePositiveRate: 0.01,
  backend: wasmBackend,
})
wasm.addMany(revoked)
const buildWasmMs = performance.now() - t
t = performance.now()
const ts = createRevocationFilter({
  expectedItems: N,
  falsePositiveRate: 0.01,
  backend: typescriptSbbfBackend,
})
ts.addMany(revoked)
const buildTsMs = performance.now() - t
const h2 = heap()
const set = new Set(revoked)
const h3 = heap()

const snapshot = wasm.toSnapshot('1700000000000-0')
const identical = Buffer.compare(snapshot, ts.toSnapshot('1700000000000-0')) === 0

// --- load from snapshot
function loadMs(backend: typeof wasmBackend): number {
  const samples: number[] = []
  for (let i = 0; i < 31; i++) {
    const start = performance.now()
    loadRevocationFilter(snapshot, { backend })
    samples.push(performance.now() - start)
  }
  return median(samples)
}
const loadWasmMs = loadMs(wasmBackend)
const loadTsMs = loadMs(typescriptSbbfBackend)

// --- probes: fresh ids (the common case: not revoked) and revoked ids
const asProbe = (f: RevocationFilter) => (id: string) => f.has(id)
const probesFresh = interleaved(fresh, {
  wasm: asProbe(wasm),
  typescript: asProbe(ts),
  set: (id) => set.has(id),
})
const probesRevoked = interleaved(revoked, {
  wasm: asProbe(wasm),
  typescript: asProbe(ts),
  set: (id) => set.has(id),
})
const fpWasm = probesFresh.wasm?.hits ?? NaN
if (probesFresh.typescript?.hits !== fpWasm) throw new Error('WASM and TypeScript disagree')

// --- kernel variants on the raw exports, over the same blocks
const raw = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(new URL('../src/wasm/build/sbbf.wasm', import.meta.url))),
  {},
).exports as unknown as Record<
  'probeKey' | 'probeKeyShl' | 'probeKeyScalar',
  (p: number, n: number) => number
> & {
  memory: WebAssembly.Memory
  setBlockCount(n: number): void
  probeHash(hi: number, lo: number): number
}
// Blocks at 65536 as in the stores, then every fresh id pre-encoded back to back, so the variants are
// timed on the kernel call alone (hash + block probe), without the string copy.
const keysOffset = 65536 + wasm.byteLength
const encodedFresh = Buffer.from(fresh.join(''), 'latin1')
raw.memory.grow(Math.ceil((keysOffset + encodedFresh.length) / 65536))
raw.setBlockCount(wasm.blockCount)
const memory = new Uint8Array(raw.memory.buffer)
memory.set(snapshot.subarray(32), 65536)
memory.set(encodedFresh, keysOffset)
const scratch = new Uint8Array(raw.memory.buffer, 0, 65536)
const hashOut = new Uint32Array(2)
const ID_BYTES = 36 // every UUID
const offsets = fresh.map((_, i) => keysOffset + i * ID_BYTES)
const kernel = (fn: (p: number, n: number) => number) => (offset: number) =>
  fn(offset, ID_BYTES) !== 0
const variants = interleaved(offsets, {
  'simd, float-exponent masks (kept)': kernel(raw.probeKey),
  'simd, shl per lane (extract/replace)': kernel(raw.probeKeyShl),
  'scalar wasm, no simd': kernel(raw.probeKeyScalar),
})
const handoff = interleaved(fresh, {
  'encodeInto + hash and probe in wasm (kept)': (id) =>
    raw.probeKey(0, writeUtf8(id, scratch, 0)) !== 0,
  'encodeInto + hash in JS + probe in wasm': (id) => {
    const n = writeUtf8(id, scratch, 0)
    xxh64(scratch, n, hashOut)
    return raw.probeHash(hashOut[0] as number, hashOut[1] as number) !== 0
  },
})

// --- second kernel? base64url decode of a JWT payload: the copy into WASM memory alone vs native
const payload = Buffer.from(
  JSON.stringify({
    iss: 'https://issuer.example',
    sub: crypto.randomUUID(),
    aud: 'api',
    scope: 'read write',
    jti: crypto.randomUUID(),
    sid: crypto.randomUUID(),
    iat: 1,
    exp: 2,
  }),
).toString('base64url')
const payloads = Array.from(
  { length: 100_000 },
  (_, i) => payload.slice(0, -4) + String(1000 + (i % 9000)),
)
const decoder = new TextDecoder()
const decodedLength = Buffer.from(payload, 'base64url').length
const wasmOut = new Uint8Array(raw.memory.buffer, 32768, decodedLength)
const base64 = interleaved(payloads, {
  'native: Buffer.from(base64url).toString()': (s) =>
    Buffer.from(s, 'base64url').toString().length > 0,
  'native: atob': (s) => atob(s.replaceAll('-', '+').replaceAll('_', '/')).length > 0,
  'wasm floor: copy in + decode out, no work': (s) =>
    writeUtf8(s, scratch, 0) > 0 && decoder.decode(wasmOut).length > 0,
})

const fpRate = fpWasm / N
const wasmNs = probesFresh.wasm?.ns ?? NaN
const tsNs = probesFresh.typescript?.ns ?? NaN
const results = {
  benchmark: 'revocation filter, 1M revoked ids (UUIDv4), 1M fresh ids',
  command: 'npm run bench:revocation',
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  date: new Date().toISOString(),
  filter: {
    implementation: wasm.implementation,
    blocks: wasm.blockCount,
    bytes: wasm.byteLength,
    bitsPerId: (wasm.byteLength * 8) / N,
    snapshotBytes: snapshot.length,
    falsePositives: fpWasm,
    falsePositiveRate: fpRate,
    wasmAndTypescriptSnapshotsIdentical: identical,
  },
  buildMs: { wasmAddMany: buildWasmMs, typescriptAddMany: buildTsMs },
  loadFromSnapshotMs: { wasm: loadWasmMs, typescript: loadTsMs },
  probeNsFreshIds: { wasm: wasmNs, typescript: tsNs, set: probesFresh.set?.ns },
  probeNsRevokedIds: {
    wasm: probesRevoked.wasm?.ns,
    typescript: probesRevoked.typescript?.ns,
    set: probesRevoked.set?.ns,
  },
  wasmSpeedupOverTypescript: tsNs / wasmNs,
  setMemoryBytes: { table: h3 - h2, idStringsAndArray: h1 - h0 },
  kernelVariantsNsFreshIds: Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, v.ns])),
  keyHandoffNsFreshIds: Object.fromEntries(Object.entries(handoff).map(([k, v]) => [k, v.ns])),
  base64urlPayloadNs: Object.fromEntries(Object.entries(base64).map(([k, v]) => [k, v.ns])),
  base64urlPayloadChars: payload.length,
  targets: {
    bytesAtMost2MB: wasm.byteLength <= 2 * 1024 * 1024,
    falsePositiveRateAtMost1Percent: fpRate <= 0.01,
    loadAtMost5ms: loadWasmMs <= 5,
    wasmFasterThanTypescript: wasmNs < tsNs,
  },
}
writeFileSync(
  new URL('./results/revocation.json', import.meta.url),
  JSON.stringify(results, null, 2) + '\n',
)

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`
const ns = (value: number | undefined) => `${(value ?? NaN).toFixed(1)} ns`
const rows: [string, string][] = [
  [
    'filter bytes (1M ids)',
    `${mb(wasm.byteLength)} (${results.filter.bitsPerId.toFixed(2)} bits/id)`,
  ],
  ['false positives (1M fresh)', `${(fpRate * 100).toFixed(3)} %`],
  ['load from snapshot, wasm / ts', `${loadWasmMs.toFixed(3)} ms / ${loadTsMs.toFixed(3)} ms`],
  ['build 1M, wasm addMany / ts', `${buildWasmMs.toFixed(0)} ms / ${buildTsMs.toFixed(0)} ms`],
  ['probe fresh, wasm simd', ns(wasmNs)],
  ['probe fresh, typescript', ns(tsNs)],
  ['probe fresh, Set.has', ns(probesFresh.set?.ns)],
  [
    'probe revoked, wasm / ts / Set',
    `${ns(probesRevoked.wasm?.ns)} / ${ns(probesRevoked.typescript?.ns)} / ${ns(probesRevoked.set?.ns)}`,
  ],
  ['wasm speed-up over typescript', `${results.wasmSpeedupOverTypescript.toFixed(2)}x`],
  ['Set memory: table / id strings', `${mb(h3 - h2)} / ${mb(h1 - h0)}`],
  ...Object.entries(variants).map(([k, v]): [string, string] => [`kernel: ${k}`, ns(v.ns)]),
  ...Object.entries(handoff).map(([k, v]): [string, string] => [`key: ${k}`, ns(v.ns)]),
  ...Object.entries(base64).map(([k, v]): [string, string] => [
    `base64url ${payload.length} chars: ${k}`,
    ns(v.ns),
  ]),
]
const width = Math.max(...rows.map(([k]) => k.length))
console.log(`revocation filter — ${results.node}, ${results.cpu}, ${results.cores} cores`)
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
console.log('targets', results.targets, blackhole > 0 ? '' : '(no hits?)')
