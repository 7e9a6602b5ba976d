/**
 * The Worker without the Cedar engine that `npm run bench:policy` starts beside bench/policy-worker.ts:
 * the same routes answered without work, so the two isolates' start times differ by the engine alone.
 */
export default {
  async fetch(): Promise<Response> {
    return new Response('ok')
  },
}
