import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          environment: 'node',
          // One real redis-server (+ Upstash REST bridge) per run for the integration tests.
          globalSetup: ['test/support/global-redis.ts'],
        },
      },
      {
        plugins: [
          cloudflareTest({ wrangler: { configPath: './test/workers/wrangler.test.toml' } }),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
        },
      },
    ],
  },
})
