/**
 * The Node origin for `npm run bench:http`: the production server exactly as `npm start` and the
 * image run it (src/entry/node.ts: the malloc arena and heap growth policies, then `startNodeServer(process.env)`),
 * configured from the environment without `GATEHOUSE_CONFIG` or an L2 store (the verifier role;
 * revocation checks off), plus one bench-only route group:
 *
 *   GET /noop → 200 "ok", through the same app and request hooks
 *
 * so `/verify` is compared with a no-op route of the same app in the same process. Run as
 * JavaScript over the `npm run build:origin` output, as the image runs (bench/lib/built-origin.ts).
 * Listens on HOST (default 127.0.0.1) and PORT (0 for any) and prints one JSON line
 * `{"listening":<port>}` when ready; SIGTERM exits at once (no drain: nothing is in flight).
 */
import type { GatehouseEnv } from '../../src/http/types.ts'
import { applyMemoryPolicies } from '../../src/entry/node-heap.ts'

// As src/entry/node.ts: the memory policies first (the first may re-execute the process), then the app.
applyMemoryPolicies()
const [{ Hono }, { startNodeServer }] = await Promise.all([
  import('hono'),
  import('../../src/entry/node-server.ts'),
])
const noop = new Hono<GatehouseEnv>()
noop.get('/noop', (c) => c.text('ok'))
const server = await startNodeServer(
  { ...process.env, HOST: process.env.HOST ?? '127.0.0.1' },
  { routes: [{ path: '/', app: noop }] },
)
console.log(JSON.stringify({ listening: server.port }))
process.once('SIGTERM', () => process.exit(0))
