/**
 * The L1 bound under many distinct tokens, for `npm run bench:http`: drives 100,000 distinct valid
 * ES256 tokens through the production L1 (`createTokenCache` with its default bound in front of the
 * core verifier with the Node signature check), one after the other, as a flood of new clients would,
 * and reports the cache size against `maxEntries` and the heap before and after (after a full GC).
 * Runs as its own process (`--expose-gc`) so the bench process's heap does not blur the numbers.
 * Tokens are signed one at a time and dropped, so only the cache holds them. Prints one JSON line.
 */
import { createCachedVerifier } from '../../src/cache/cached-verifier.ts'
import { createTokenCache, DEFAULT_MAX_ENTRIES } from '../../src/cache/token-cache.ts'
import { createStaticKeySet } from '../../src/core/jwks.ts'
import { createAccessTokenVerifier } from '../../src/core/verify.ts'
import { nodeSignatureCheck } from '../../src/entry/node-signature.ts'
import { publicJwks } from '../../test/fixtures/keys.ts'
import { signEs256Token, TEST_AUDIENCE, TEST_ISSUER } from './http-tokens.ts'

const TOKENS = Number(process.env.L1_TOKENS ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

const MiB = 2 ** 20
const heapMiB = () => {
  gc()
  return process.memoryUsage().heapUsed / MiB
}

const cache = createTokenCache()
const verifier = createCachedVerifier(
  createAccessTokenVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    keys: await createStaticKeySet(publicJwks()),
    checkSignature: nodeSignatureCheck,
  }),
  cache,
)
// Warm the code paths (and jose/zod module state) before the baseline, then empty the cache again.
await verifier.verify(signEs256Token(0))
cache.clear()
const heapBefore = heapMiB()

const t0 = performance.now()
let maxSize = 0
let last = ''
for (let i = 0; i < TOKENS; i++) {
  last = signEs256Token(i)
  const { claims } = await verifier.verify(last)
  if (claims.sub !== `user-${i}`) throw new Error('verification returned the wrong token')
  if ((i & 1023) === 0) maxSize = Math.max(maxSize, cache.stats().size)
}
const seconds = (performance.now() - t0) / 1000
const hitsBefore = cache.stats().hits
await verifier.verify(last)
const lastIsHit = cache.stats().hits === hitsBefore + 1
const stats = cache.stats()
maxSize = Math.max(maxSize, stats.size)
const heapAfter = heapMiB()

console.log(
  JSON.stringify({
    tokens: TOKENS,
    maxEntries: stats.maxEntries,
    defaultMaxEntries: DEFAULT_MAX_ENTRIES,
    size: stats.size,
    maxSizeSeen: maxSize,
    evictions: stats.evictions,
    withinBound: maxSize <= stats.maxEntries,
    lastIsHit,
    tokenLength: last.length,
    heapBeforeMiB: heapBefore,
    heapAfterMiB: heapAfter,
    retainedMiB: heapAfter - heapBefore,
    bytesPerEntry: ((heapAfter - heapBefore) * MiB) / stats.size,
    rssMiB: process.memoryUsage().rss / MiB,
    seconds,
  }),
)
