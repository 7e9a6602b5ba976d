import { defineConfig } from 'vitest/config'

// `npm run test:soak`: the soak (SOAK_SECONDS, default here 300; SOAK_RPS) with results written to
// bench/results/soak.json. Not part of `npm test`: it measures rate and memory, which a busy machine
// changes (vitest.config.ts).
export default defineConfig({
  test: {
    name: 'soak',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/soak/**/*.test.ts'],
    environment: 'node',
    env: { SOAK_SECONDS: process.env.SOAK_SECONDS ?? '300', SOAK_RESULTS: '1' },
    hookTimeout: 120_000,
    // The origin as the image runs it, built once for the run (vitest.config.ts).
    globalSetup: ['test/support/global-origin-app.ts'],
  },
})
