/**
 * `npm run bench:dpop`: what DPoP costs at the edge once the token is in L1 (issue 18). A DPoP request
 * whose access token is an L1 hit should cost one proof signature check more than a bearer request
 * with an L1 hit: the proof's key import and thumbprint are cached per client key, and what is left
 * besides the signature (parsing, `htu`, `ath`, the replay check) should be small.
 *
 * Rows, each `authenticate()` of src/http/authenticate.ts on a pre-built Request (as /verify, the
 * gateway and `requireAuth` call it), with the L1 token cache warm:
 * - bearer, L1 hit: `Authorization: Bearer`;
 * - DPoP, L1 hit: `Authorization: DPoP` + a proof with a fresh `jti` every op (a pool signed before
 *   timing), with the WebCrypto signature check (the Worker's) and the `node:crypto` one; the replay
 *   cache in L1 and in L2 (the memory store: the network round trip to Upstash is not in this number);
 * - DPoP, L1 hit, no L2: the same with the replay cache in L1 only;
 * - the bare ES256 signature checks of the same proofs: the floor.
 *
 * Rounds interleave the rows so load from other processes hits all alike; each round starts every
 * DPoP row with an empty replay cache, so the proof pool is reused per round. Speed is reported as
 * ratios of medians taken within each round, the median over rounds, twice: of p50 latency, and of
 * process CPU time per op (user + system of every thread, so WebCrypto's thread pool counts; time
 * spent waiting for a thread or the scheduler on a loaded machine does not). The extra cost of DPoP
 * is (DPoP - Bearer) / bare signature check: 1 is the floor. Results go to
 * bench/results/dpop.json (git-ignored, like every bench's: a number for the docs is copied there
 * with the command beside it).
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { exportJWK, generateKeyPair } from 'jose'
import { createCachedVerifier } from '../src/cache/cached-verifier.ts'
import { createTokenCache } from '../src/cache/token-cache.ts'
import { encodeBase64Url } from '../src/core/base64url.ts'
import { calculateJwkThumbprint } from 'jose'
import { createStaticKeySet } from '../src/core/jwks.ts'
import { createAccessTokenVerifier } from '../src/core/verify.ts'
import { nodeSignatureCheck } from '../src/entry/node-signature.ts'
import { authenticate } from '../src/http/authenticate.ts'
import { createDpopGuard, type DpopGuard } from '../src/http/dpop-guard.ts'
import { createMemoryStore } from '../src/store/memory.ts'
import { publicJwks, signTestToken } from '../test/fixtures/keys.ts'
import { describeMachine } from './lib/machine.ts'
import { measure, merge, type Measurement } from './lib/measure.ts'
import { opsPerSec, renderTable, us } from './lib/table.ts'
import { cycle, TEST_AUDIENCE, TEST_ISSUER } from './lib/tokens.ts'

const ROUNDS = 7
const ROUND_MS = 500
const WARMUP_MS = 200
/** Ops per row and round whose process CPU time is measured (after CPU_WARMUP_OPS). */
const CPU_OPS = 3000
const CPU_WARMUP_OPS = 300
/** Proofs per round and row: more than the fastest DPoP row can use in warm-up plus one round. */
const POOL_SIZE = 24_000
const URL_ = 'https://edge.example/api/orders'
const RESULTS_DIR = new URL('./results/', import.meta.url)
const RESULTS = new URL('dpop.json', RESULTS_DIR)

const encoder = new TextEncoder()
const segment = (value: object) => encodeBase64Url(encoder.encode(JSON.stringify(value)))

// ---- inputs, made before any timing ----------------------------------------------------------

const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
const jwk = await exportJWK(publicKey)
const jkt = await calculateJwkThumbprint(jwk, 'sha256')
const nodePrivate = createPrivateKey({ key: (await exportJWK(privateKey)) as never, format: 'jwk' })
const nodePublic = createPublicKey({ key: jwk as never, format: 'jwk' })
const token = await signTestToken(
  {
    sub: 'user-1',
    scope: 'openid profile email offline_access orders:read orders:write invoices:read',
    sid: crypto.randomUUID(),
    cnf: { jkt },
  },
  { lifetimeSeconds: 900 },
)
const bearerToken = await signTestToken(
  {
    sub: 'user-1',
    scope: 'openid profile email offline_access orders:read orders:write invoices:read',
    sid: crypto.randomUUID(),
  },
  { lifetimeSeconds: 900 },
)
const nowSeconds = Math.floor(Date.now() / 1000)
const clock = () => nowSeconds * 1000
const ath = encodeBase64Url(
  new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))),
)
const header = segment({ alg: 'ES256', typ: 'dpop+jwt', jwk })

interface Proof {
  request: Request
  data: Uint8Array
  signature: Uint8Array
}

function makePool(size: number): Proof[] {
  const pool: Proof[] = []
  for (let i = 0; i < size; i++) {
    const input = `${header}.${segment({ jti: crypto.randomUUID(), htm: 'GET', htu: URL_, iat: nowSeconds, ath })}`
    const signature = nodeSign('sha256', encoder.encode(input), {
      key: nodePrivate,
      dsaEncoding: 'ieee-p1363',
    })
    const proof = `${input}.${encodeBase64Url(signature)}`
    pool.push({
      request: new Request(URL_, { headers: { Authorization: `DPoP ${token}`, DPoP: proof } }),
      data: encoder.encode(input),
      signature: new Uint8Array(signature),
    })
  }
  return pool
}

const pool = makePool(POOL_SIZE)
const bearerRequests = Array.from(
  { length: 4096 },
  () => new Request(URL_, { headers: { Authorization: `Bearer ${bearerToken}` } }),
)

const keys = await createStaticKeySet(publicJwks())
const verifier = createCachedVerifier(
  createAccessTokenVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    keys,
    checkSignature: nodeSignatureCheck,
  }),
  createTokenCache(),
)
const webCryptoKey = await crypto.subtle.importKey(
  'jwk',
  jwk,
  { name: 'ECDSA', namedCurve: 'P-256' },
  false,
  ['verify'],
)

// ---- rows ---------------------------------------------------------------------------------------

interface Row {
  id: string
  name: string
  /** A fresh op for one round (DPoP rows get an empty replay cache each round). */
  start(): () => Promise<unknown> | unknown
}

const dpopRow = (id: string, name: string, guard: () => DpopGuard): Row => ({
  id,
  name,
  start() {
    const dpop = guard()
    const next = cycle(pool)
    let used = 0
    return () => {
      if (++used > pool.length) throw new Error('proof pool exhausted: raise POOL_SIZE')
      return authenticate(next().request, verifier, { allowFormBody: false, dpop })
    }
  },
})

const rows: Row[] = [
  {
    id: 'bearer-l1',
    name: 'Bearer, L1 hit',
    start() {
      const dpop = createDpopGuard({ now: clock })
      const next = cycle(bearerRequests)
      return () => authenticate(next(), verifier, { allowFormBody: false, dpop })
    },
  },
  dpopRow('dpop-l1-webcrypto', 'DPoP, L1 hit, WebCrypto proof check (Worker), L1+L2 replay', () =>
    createDpopGuard({ now: clock, store: createMemoryStore({ now: clock }) }),
  ),
  dpopRow('dpop-l1-node', 'DPoP, L1 hit, node:crypto proof check, L1+L2 replay', () =>
    createDpopGuard({
      now: clock,
      store: createMemoryStore({ now: clock }),
      checkSignature: nodeSignatureCheck,
    }),
  ),
  dpopRow('dpop-l1-webcrypto-no-l2', 'DPoP, L1 hit, WebCrypto proof check, L1 replay only', () =>
    createDpopGuard({ now: clock }),
  ),
  {
    id: 'bare-webcrypto',
    name: 'bare WebCrypto verify ES256 (the proof signature)',
    start() {
      const next = cycle(pool)
      return () => {
        const { data, signature } = next()
        return crypto.subtle.verify(
          { name: 'ECDSA', hash: 'SHA-256' },
          webCryptoKey,
          signature as Uint8Array<ArrayBuffer>,
          data as Uint8Array<ArrayBuffer>,
        )
      }
    },
  },
  {
    id: 'bare-node',
    name: 'bare node:crypto verify ES256 (sync)',
    start() {
      const next = cycle(pool)
      return () => {
        const { data, signature } = next()
        return nodeVerify('sha256', data, { key: nodePublic, dsaEncoding: 'ieee-p1363' }, signature)
      }
    },
  },
]

// Every row must succeed on its inputs before it is timed.
for (const row of rows) {
  const result = await row.start()()
  const ok = result === true || (result as { claims?: { sub?: unknown } })?.claims?.sub === 'user-1'
  if (!ok) throw new Error(`${row.id} did not succeed`)
}

/**
 * CPU time per op of a fresh start of `row`: user + system time of the whole process (the thread
 * pool WebCrypto runs on included) over CPU_OPS ops, so time spent waiting for a thread or for the
 * scheduler on a loaded machine is not counted, only work done.
 */
async function cpuPerOpNs(row: Row): Promise<number> {
  const op = row.start()
  for (let i = 0; i < CPU_WARMUP_OPS; i++) await op()
  const before = process.cpuUsage()
  for (let i = 0; i < CPU_OPS; i++) await op()
  const used = process.cpuUsage(before)
  return ((used.user + used.system) * 1000) / CPU_OPS
}

const samples = new Map<string, Measurement[]>(rows.map((r) => [r.id, []]))
const cpuSamples = new Map<string, number[]>(rows.map((r) => [r.id, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const row of rows) {
    samples.get(row.id)!.push(await measure(row.start(), { warmupMs: WARMUP_MS, timeMs: ROUND_MS }))
    cpuSamples.get(row.id)!.push(await cpuPerOpNs(row))
  }
}
const results = new Map([...samples].map(([id, rounds]) => [id, merge(rounds)]))

/**
 * A ratio of p50s, computed within each round (rows of one round share the machine's load at that
 * moment) and then the median over rounds: load from other processes moves whole rounds, not rows.
 */
function roundRatio(
  value: (p50: (id: string) => number) => number,
  of: (id: string, round: number) => number = (id, round) => samples.get(id)![round]!.p50Ns,
): number {
  const perRound = Array.from({ length: ROUNDS }, (_, round) => value((id) => of(id, round))).sort(
    (a, b) => a - b,
  )
  return Math.round(perRound[Math.floor(ROUNDS / 2)]! * 100) / 100
}

/** The same over the CPU time per op of each round. */
const cpuRatio = (value: (cpu: (id: string) => number) => number): number =>
  roundRatio(value, (id, round) => cpuSamples.get(id)![round]!)

const medianCpuNs = (id: string): number => {
  const sorted = [...cpuSamples.get(id)!].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

console.log(
  renderTable(
    ['row', 'ops/s', 'p50 µs', 'p99 µs', 'CPU µs/op'],
    rows.map((row) => {
      const m = results.get(row.id)!
      return [row.name, opsPerSec(m.opsPerSec), us(m.p50Ns), us(m.p99Ns), us(medianCpuNs(row.id))]
    }),
  ),
)

const extra = (dpop: string, bare: string) =>
  roundRatio((p50) => (p50(dpop) - p50('bearer-l1')) / p50(bare))
const webExtra = extra('dpop-l1-webcrypto', 'bare-webcrypto')
const nodeExtra = extra('dpop-l1-node', 'bare-node')
const cpuExtra = (dpop: string, bare: string) =>
  cpuRatio((cpu) => (cpu(dpop) - cpu('bearer-l1')) / cpu(bare))
const webCpuExtra = cpuExtra('dpop-l1-webcrypto', 'bare-webcrypto')
const nodeCpuExtra = cpuExtra('dpop-l1-node', 'bare-node')
const summary = [
  {
    name: 'DPoP / Bearer, L1 hit (WebCrypto proof check, as on the Worker)',
    value: roundRatio((p50) => p50('dpop-l1-webcrypto') / p50('bearer-l1')),
  },
  {
    name: 'DPoP / Bearer, L1 hit (node:crypto proof check)',
    value: roundRatio((p50) => p50('dpop-l1-node') / p50('bearer-l1')),
  },
  {
    name: 'DPoP extra p50 latency in bare signature checks (WebCrypto)',
    value: webExtra,
    target: '≈ 1 (one proof signature check)',
    met: webExtra <= 1.5,
  },
  {
    name: 'DPoP extra p50 latency in bare signature checks (node:crypto)',
    value: nodeExtra,
    target: '≈ 1 (one proof signature check)',
    met: nodeExtra <= 1.5,
  },
  {
    name: 'DPoP extra CPU time in bare signature checks (WebCrypto)',
    value: webCpuExtra,
    target: '≈ 1 (one proof signature check)',
    met: webCpuExtra <= 1.5,
  },
  {
    name: 'DPoP extra CPU time in bare signature checks (node:crypto)',
    value: nodeCpuExtra,
    target: '≈ 1 (one proof signature check)',
    met: nodeCpuExtra <= 1.5,
  },
]
console.log()
console.log(
  renderTable(
    ['ratio', 'value', 'target', 'met'],
    summary.map((s) => [
      s.name,
      s.value.toFixed(2),
      s.target ?? '',
      s.met === undefined ? '' : s.met ? 'yes' : 'NO',
    ]),
  ),
)

mkdirSync(RESULTS_DIR, { recursive: true })
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      benchmark: 'dpop',
      runAt: new Date().toISOString(),
      command: 'npm run bench:dpop',
      machine: describeMachine(),
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
      summary,
      rows: rows.map((row) => {
        const m = results.get(row.id)!
        return {
          id: row.id,
          name: row.name,
          opsPerSec: m.opsPerSec,
          p50Us: m.p50Ns / 1000,
          p99Us: m.p99Ns / 1000,
          cpuUsPerOp: medianCpuNs(row.id) / 1000,
          batch: m.batch,
        }
      }),
    },
    null,
    2,
  )}\n`,
)
console.log('\nwrote bench/results/dpop.json')
