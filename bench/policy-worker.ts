/**
 * The Worker that `npm run bench:policy` bundles with wrangler and runs under `workerd serve`. The
 * driver times requests from outside (inside workerd the clock may stand still while code runs);
 * each `/run` runs `n` ops of one row (bench/policy-rows.ts).
 *
 *   GET /noop                  nothing (the request overhead the driver subtracts)
 *   GET /init                  instantiate the Cedar engine (initSync), the first time only
 *   POST /compile              compile the posted document (JSON, as L2 holds it) as a new version
 *   GET /decide                one decision on the set compiled last (a new action slice at first)
 *   POST /setup                compile the posted documents ({scoped, unscoped}) for the rows
 *   GET /run?row=<id>&n=<ops>  run n ops of a row
 */
import type { CompiledPolicySet } from '../src/policy/compiled-set.ts'
import { loadWorkerCedar } from '../src/policy/engine-worker.ts'
import { benchRequest, compileBenchSet, decisionRows, type BenchDocuments } from './policy-rows.ts'

let last: CompiledPolicySet | undefined
let rows = new Map<string, () => unknown>()

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    switch (url.pathname) {
      case '/noop':
        return new Response('ok')
      case '/init':
        return new Response(loadWorkerCedar().getCedarVersion())
      case '/compile':
        last = compileBenchSet(loadWorkerCedar(), await request.text(), 0)
        return new Response(String(last.policyCount))
      case '/decide':
        return Response.json(last?.decide(benchRequest(1)) ?? null)
      case '/setup':
        rows = decisionRows(loadWorkerCedar(), (await request.json()) as BenchDocuments)
        return Response.json({ rows: [...rows.keys()] })
      case '/run': {
        const op = rows.get(url.searchParams.get('row') ?? '')
        if (!op) return new Response('no such row', { status: 404 })
        const n = Number(url.searchParams.get('n'))
        for (let i = 0; i < n; i++) op()
        return new Response('ok')
      }
      default:
        return new Response('not found', { status: 404 })
    }
  },
}
