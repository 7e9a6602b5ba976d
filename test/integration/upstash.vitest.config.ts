import { defineConfig } from 'vitest/config'

// `npm run test:upstash`: the store contract and the revocation bound against a real Upstash
// database, a release check (docs/upstash.md), never part of `npm test`. Every key it writes is
// under `gatehouse-test:` and is deleted afterwards.
const url = process.env.UPSTASH_REDIS_REST_URL
const token = process.env.UPSTASH_REDIS_REST_TOKEN
if (!url || !token) {
  console.error(
    'npm run test:upstash needs a real Upstash database: set UPSTASH_REDIS_REST_URL and ' +
      'UPSTASH_REDIS_REST_TOKEN (a database this check may write gatehouse-test:* keys to). ' +
      'See docs/upstash.md.',
  )
  process.exit(1)
}

export default defineConfig({
  test: {
    name: 'upstash',
    root: new URL('../..', import.meta.url).pathname,
    include: [
      'test/integration/store/upstash-contract.test.ts',
      'test/integration/revocation/staleness-bound.test.ts',
    ],
    environment: 'node',
    provide: { realUpstash: { url, token } },
    // Real round trips over the internet: generous deadlines, one file at a time.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
