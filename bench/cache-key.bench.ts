/**
 * The measurements behind the L1 cache design (src/cache/): how to key a verified token and how to
 * keep LRU order. Run: `npx node --experimental-strip-types --no-warnings=ExperimentalWarning
 * bench/cache-key.bench.ts`. Prints a table and writes bench/results/cache-key.json.
 *
 * Every lookup uses a token string that has never been hashed, as when it was just read from a request
 * header: each timed pass walks a pool of fresh copies built (untimed) right before it. A pass's time
 * divided by its length is one sample; the table shows the median and the best pass.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { tokenCacheKey } from '../src/cache/cache-key.ts'
import { createTokenCache } from '../src/cache/token-cache.ts'
import type { VerifiedToken } from '../src/core/types.ts'
import { describeMachine } from './lib/machine.ts'
import { renderTable } from './lib/table.ts'
import { freshCopies, signPool } from './lib/tokens.ts'

const PASS = 16_384
const PASSES = 15
const ENTRIES = 10_000
const RESULTS = new URL('./results/cache-key.json', import.meta.url)

const base = (await signPool('ES256', 1))[0] as string
const dot = base.lastIndexOf('.')
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
// 10,000 distinct tokens of the real size: same header and payload, random 86-char signatures (the
// cache never looks inside a token, so they need not verify).
const tokens = Array.from({ length: ENTRIES }, () => {
  let signature = ''
  for (let i = 0; i < 86; i++) signature += ALPHABET[Math.floor(Math.random() * 64)]
  return `${base.slice(0, dot + 1)}${signature}`
})
const hot = tokens[1234] as string
const value: VerifiedToken = {
  header: { alg: 'ES256' },
  claims: { iss: 'i', sub: 's', aud: 'a', exp: Math.floor(Date.now() / 1000) + 3600 },
}

let sink = 0
interface Result {
  name: string
  medianNs: number
  bestNs: number
}
const results: Result[] = []

function time(name: string, pick: 'hot' | 'random', lookup: (token: string) => boolean): void {
  const perOp: number[] = []
  let seed = 1
  for (let pass = 0; pass < PASSES; pass++) {
    const pool =
      pick === 'hot'
        ? freshCopies(hot, PASS)
        : Array.from({ length: PASS }, () => {
            seed = (seed * 1103515245 + 12345) & 0x7fffffff
            return Buffer.from(tokens[seed % ENTRIES] as string, 'latin1').toString('latin1')
          })
    const t0 = performance.now()
    for (let i = 0; i < PASS; i++) if (lookup(pool[i] as string)) sink++
    perOp.push(((performance.now() - t0) * 1e6) / PASS)
  }
  perOp.sort((a, b) => a - b)
  const result = { name, medianNs: perOp[PASSES >> 1] as number, bestNs: perOp[0] as number }
  results.push(result)
  process.stderr.write(`${name}: ${result.medianNs.toFixed(1)} ns\n`)
}

interface Node {
  token: string
}

// 1. Key choice: lookup + full-string confirmation, no LRU bookkeeping.
time('baseline: read the pooled string only', 'hot', (t) => t.length > 16)
time('baseline: full-string === against the stored token', 'hot', (t) => t === hot)
{
  const map = new Map<string, Node>(tokens.map((t) => [t, { token: t }]))
  time('key = whole token (Map<string>)', 'hot', (t) => map.get(t) !== undefined)
}
for (const [length, skip] of [
  [8, 1],
  [12, 1],
  [16, 1],
  [16, 0],
  [32, 1],
] as const) {
  const key = (t: string) => t.slice(t.length - skip - length, t.length - skip)
  const map = new Map<string, Node>(tokens.map((t) => [key(t), { token: t }]))
  time(`key = slice of last ${length} chars${skip ? ' (minus 1)' : ''}, then ===`, 'hot', (t) => {
    const node = map.get(key(t))
    return node !== undefined && node.token === t
  })
}
for (const chars of [8, 16]) {
  const hash = (t: string) => {
    let h = 0x811c9dc5 | 0
    for (let i = t.length - 1 - chars; i < t.length - 1; i++)
      h = Math.imul(h ^ t.charCodeAt(i), 0x01000193)
    return h & 0x3fffffff
  }
  const map = new Map<number, Node>(tokens.map((t) => [hash(t), { token: t }]))
  time(`key = 30-bit FNV-1a of ${chars} chars (Map<number>), then ===`, 'hot', (t) => {
    const node = map.get(hash(t))
    return node !== undefined && node.token === t
  })
}

// 2. LRU bookkeeping on a hit, with the chosen key, 10,000 entries.
for (const pick of ['hot', 'random'] as const) {
  const label = pick === 'hot' ? 'same token' : 'random token of 10k'
  {
    const map = new Map<number, Node>(tokens.map((t) => [tokenCacheKey(t), { token: t }]))
    time(`LRU none (${label})`, pick, (t) => {
      const node = map.get(tokenCacheKey(t))
      return node !== undefined && node.token === t
    })
  }
  {
    const map = new Map<number, Node>(tokens.map((t) => [tokenCacheKey(t), { token: t }]))
    time(`LRU by Map delete + re-set (${label})`, pick, (t) => {
      const key = tokenCacheKey(t)
      const node = map.get(key)
      if (node === undefined || node.token !== t) return false
      map.delete(key)
      map.set(key, node)
      return true
    })
  }
  {
    const cache = createTokenCache({ maxEntries: ENTRIES })
    for (const t of tokens) cache.set(t, value)
    time(`createTokenCache().get: intrusive list + clock (${label})`, pick, (t) => {
      return cache.get(t) !== undefined
    })
  }
}

const machine = describeMachine()
console.log(`\ncache key and LRU design — ${machine.cpuModel}, Node ${machine.node}`)
console.log(
  `token length ${hot.length}, ${ENTRIES.toLocaleString('en-US')} entries, fresh strings\n`,
)
console.log(
  renderTable(
    ['variant', 'median ns/op', 'best ns/op'],
    results.map((r) => [r.name, r.medianNs.toFixed(1), r.bestNs.toFixed(1)]),
  ),
)
mkdirSync(new URL('./', RESULTS), { recursive: true })
writeFileSync(
  RESULTS,
  `${JSON.stringify({ benchmark: 'cache-key', runAt: new Date().toISOString(), machine, tokenLength: hot.length, results }, null, 2)}\n`,
)
console.log(`\nwrote ${RESULTS.pathname}${sink < 0 ? '' : ''}`)
