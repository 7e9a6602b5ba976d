import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { TEST_AUDIENCE, publicJwks } from './test/fixtures/keys.ts'

// Timeouts are generous upper bounds, never the measure of anything: on a busy machine (two CPU
// burners beside `npm test`) a test may run many times slower than alone, and must still pass.
// Speed is measured in `npm run bench*` and `npm run test:soak`, not here.
const GENEROUS_MS = 120_000

// The origin as the image runs it (`node dist/entry/node.js`), built once per run from src/ before any
// test file starts, into a temporary /app (never the repository's dist/): the projects that start
// origin processes list it; they share the one build.
const ORIGIN_APP = 'test/support/global-origin-app.ts'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: GENEROUS_MS,
          hookTimeout: GENEROUS_MS,
          // One real redis-server (+ Upstash REST bridge) per run for the integration tests.
          globalSetup: ['test/support/global-redis.ts', ORIGIN_APP],
        },
      },
      {
        // The published package as a user installs it: build, `npm pack`, unpack into a temp app,
        // import with Node 22 and 20, type-check a consumer, bundle (test/package/packed-app.ts).
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          environment: 'node',
          // Generous bounds only: tsc and npm pack on a busy 2-core machine.
          testTimeout: 300_000,
          hookTimeout: 400_000,
        },
      },
      {
        // Real processes under faults (chaos: the Worker in workerd, the origin, redis) and fuzzing
        // of every endpoint; one file at a time since each starts its own stack. The soak is not
        // here: it measures throughput and memory, so it runs as `npm run test:soak`.
        test: {
          name: 'reliability',
          // After everything else, alone: fault timings must not compete with the other suites.
          sequence: { groupOrder: 2 },
          include: ['test/chaos/**/*.test.ts', 'test/fuzz/**/*.test.ts'],
          environment: 'node',
          // A hang guard only: fuzzing 36,000 requests takes ~15 s alone and ~2 min beside burners.
          testTimeout: 3 * GENEROUS_MS,
          hookTimeout: 2 * GENEROUS_MS,
          fileParallelism: false,
          globalSetup: [ORIGIN_APP],
        },
      },
      {
        // The SPA login flow in headless Chromium against the dev stack (real redis, the origin
        // process, the edge under wrangler dev); one file at a time, each starts its own stack.
        test: {
          name: 'e2e',
          sequence: { groupOrder: 1 },
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: GENEROUS_MS,
          hookTimeout: 2 * GENEROUS_MS,
          fileParallelism: false,
        },
      },
      {
        plugins: [
          cloudflareTest({ wrangler: { configPath: './test/workers/wrangler.test.toml' } }),
        ],
        // Wrangler resolves the Cedar engine's .wasm by path; vite honours the package's `exports`,
        // which do not list it (src/policy/engine-worker.ts).
        resolve: {
          alias: {
            '@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm': fileURLToPath(
              new URL(
                'node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm',
                import.meta.url,
              ),
            ),
          },
        },
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          testTimeout: GENEROUS_MS,
          hookTimeout: GENEROUS_MS,
          // The issuer's JWKS on loopback, for the GATEHOUSE_JWKS_URL form (jwks-url.test.ts), and a
          // real redis-server behind the Upstash bridge and a fault proxy, for the availability cases
          // (availability.test.ts), and an origin that echoes what reached it, for custom-host
          // tenants (tenancy-worker.test.ts).
          globalSetup: [
            'test/workers/global-jwks.ts',
            'test/support/workers-l2.ts',
            'test/workers/tenancy-origin.ts',
          ],
        },
      },
      {
        // Precedence (docs/configuration.md): the toml's [vars] under bindings set on top, the way
        // `wrangler secret put` / `wrangler deploy --var` set them.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './test/workers-precedence/wrangler.toml' },
            miniflare: {
              bindings: {
                GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
                GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
              },
            },
          }),
        ],
        test: {
          name: 'workers-precedence',
          include: ['test/workers-precedence/**/*.test.ts'],
          testTimeout: GENEROUS_MS,
          hookTimeout: GENEROUS_MS,
        },
      },
    ],
  },
})
