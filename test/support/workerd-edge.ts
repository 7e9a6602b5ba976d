/**
 * The real edge Worker (src/entry/worker.ts) as a process: bundled the way `wrangler deploy` bundles
 * it and run by `workerd serve` (bench/lib/http-workerd.ts), its [vars] as text bindings, outbound
 * allowed to loopback (L2 bridge, origins). For tests that need the Worker beside real origin
 * processes, not a Node copy of its wiring.
 *
 * @example
 * const edge = await startWorkerdEdge({ GATEHOUSE_ISSUER: issuer, ... })
 * await fetch(`${edge.url}/verify`, { headers: { authorization: `Bearer ${token}` } })
 * await edge.stop()
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleWorker, startWorkerd } from '../../bench/lib/http-workerd.ts'

/** wrangler.toml's compatibility date. */
const COMPATIBILITY_DATE = '2026-11-01'

export interface WorkerdEdge {
  url: string
  stop(): Promise<void>
}

export async function startWorkerdEdge(vars: Record<string, string>): Promise<WorkerdEdge> {
  const workDir = await mkdtemp(join(tmpdir(), 'gatehouse-workerd-'))
  try {
    const modules = await bundleWorker(COMPATIBILITY_DATE, {
      entry: 'src/entry/worker.ts',
      workDir,
    })
    const server = await startWorkerd(modules, {
      compatibilityDate: COMPATIBILITY_DATE,
      vars,
      workDir,
    })
    return {
      url: `http://127.0.0.1:${server.port}`,
      async stop() {
        await server.stop()
        await rm(workDir, { recursive: true, force: true })
      },
    }
  } catch (e) {
    await rm(workDir, { recursive: true, force: true })
    throw e
  }
}
