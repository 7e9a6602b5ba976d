import { defineConfig } from 'vitest/config'

// `npm run test:soak`: the long soak (SOAK_SECONDS, default here 300) with results written to
// bench/results/soak.json. `npm test` runs the same file for SOAK_SECONDS=20 (its default).
export default defineConfig({
  test: {
    name: 'soak',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/soak/**/*.test.ts'],
    environment: 'node',
    env: { SOAK_SECONDS: process.env.SOAK_SECONDS ?? '300', SOAK_RESULTS: '1' },
    hookTimeout: 60_000,
  },
})
