/**
 * The edge Worker in workerd with a breakable path to each thing it depends on:
 *
 *   client → workerd (src/entry/worker.ts) ─(originProxy)→ origin   (minting routes; its JWKS as
 *                                          │                          the fallback while L2 has no set)
 *                                          └─(l2Proxy)───→ L2       (Upstash REST: the key set, JWKS
 *                                                                     and discovery; revocation sync,
 *                                                                     hit confirmations)
 *
 * Each proxy (tcp-proxy.ts) can add latency, refuse, reset or black-hole; `restart()` gives a cold
 * isolate (new workerd process, same port: no L1, no keys, no revocation filter). The chaos stack
 * (stack.ts) is built on this; availability tests use it directly, e.g. origin down + cold isolate:
 *
 *   await edge.originProxy.setMode('refuse')
 *   await edge.restart()
 *   await fetch(`${edge.url}/verify`, { headers: { authorization: `Bearer ${token}` } })
 */
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'
import { startWorkerd, type WorkerdProcess } from './workerd-process.ts'

export interface EdgeWorkerOptions {
  issuer: string
  audience: string
  /** The origin's base URL (the proxy targets its port); `startEdgeWorker` points the edge at the proxy. */
  originUrl: string
  /** The L2 the edge reads (Upstash REST URL and token); omitted: edge revocation off, no l2Proxy target. */
  l2?: { url: string; token: string }
  /**
   * More bindings, or overrides of the defaults (e.g. GATEHOUSE_ORIGIN_TIMEOUT_MS); an empty string
   * removes a default (e.g. `GATEHOUSE_JWKS_URL: ''` beside an inline `GATEHOUSE_JWKS`).
   */
  vars?: Record<string, string>
}

export interface EdgeWorker {
  readonly url: string
  /** The Worker's JSON log lines, across restarts. */
  readonly logs: Record<string, unknown>[]
  readonly workerd: WorkerdProcess
  /** Edge ↔ origin: minting routes, and the origin's JWKS (GATEHOUSE_JWKS_URL) while L2 has no set. */
  readonly originProxy: TcpProxy
  /** Edge ↔ L2: every Upstash REST call of the Worker. */
  readonly l2Proxy: TcpProxy
  /** A cold isolate on the same URL; `vars` (merged over the current ones, as above) change bindings. */
  restart(vars?: Record<string, string>): Promise<void>
  close(): Promise<void>
}

const portOf = (url: string): number => {
  const { port, protocol } = new URL(url)
  return port === '' ? (protocol === 'https:' ? 443 : 80) : Number(port)
}

/**
 * @example
 * const edge = await startEdgeWorker({ issuer, audience, originUrl: origin.url, l2: bridge })
 * await edge.l2Proxy.setMode('blackhole') // L2 hangs for the Worker only
 * await edge.close()
 */
export async function startEdgeWorker(options: EdgeWorkerOptions): Promise<EdgeWorker> {
  const cleanup: (() => Promise<unknown>)[] = []
  const closeAll = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {})
  }
  try {
    const originProxy = await startTcpProxy({ targetPort: portOf(options.originUrl) })
    cleanup.push(() => originProxy.close())
    // With no L2 the proxy still exists (pointing nowhere useful) so the shape stays the same.
    const l2Proxy = await startTcpProxy({ targetPort: options.l2 ? portOf(options.l2.url) : 9 })
    cleanup.push(() => l2Proxy.close())
    let vars: Record<string, string> = {
      GATEHOUSE_ISSUER: options.issuer,
      GATEHOUSE_AUDIENCE: options.audience,
      GATEHOUSE_JWKS_URL: `${originProxy.url}/.well-known/jwks.json`,
      GATEHOUSE_ORIGIN_URL: originProxy.url,
      ...(options.l2
        ? { UPSTASH_REDIS_REST_URL: l2Proxy.url, UPSTASH_REDIS_REST_TOKEN: options.l2.token }
        : {}),
      ...options.vars,
    }
    const bindings = () => Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== ''))
    const workerd = await startWorkerd(bindings())
    cleanup.push(() => workerd.close())
    return {
      get url() {
        return workerd.url
      },
      logs: workerd.logs,
      workerd,
      originProxy,
      l2Proxy,
      async restart(more) {
        if (more) vars = { ...vars, ...more }
        await workerd.restart(bindings())
      },
      close: closeAll,
    }
  } catch (e) {
    await closeAll()
    throw e
  }
}
