/**
 * The servers and rows of the per-request A/B tools (bench/cpu-per-request.ts,
 * bench/cpu-per-request-syscalls.ts): an upstream, the bench Node origin (and a base checkout's),
 * the bare Hono peers' server, and one row per route compared in `npm run bench:http`.
 */
import { publicJwks } from '../../test/fixtures/keys.ts'
import { startNodeScript, type ServerProcess } from './http-process.ts'
import { TEST_AUDIENCE, TEST_ISSUER } from './http-tokens.ts'

export interface RowSpec {
  /** `ours /noop`, `base /verify L1`, `bare Hono /noop`, … */
  id: string
  /** The name of the server (a key of `servers`). */
  server: string
  path: string
}

/**
 * Starts the upstream, `ours` (the checkout at `here`), `base` (at `base`, with `baseFlags`) when
 * given, and `bare`; returns them (in start order: stop in reverse) and the rows, origins first,
 * kept to those whose id contains one of `rowFilter`'s words when given. On a failed start the
 * servers already started are in `servers` for the caller to stop.
 *
 * @example const { rows } = await startCpuRowServers(servers, { here, base, rowFilter: ['noop'] })
 */
export async function startCpuRowServers(
  servers: Map<string, ServerProcess>,
  options: { here: string; base?: string; baseFlags?: readonly string[]; rowFilter?: string[] },
): Promise<{ rows: RowSpec[]; origins: string[] }> {
  const { here, base, baseFlags = [], rowFilter } = options
  const upstream = await startNodeScript('upstream', `${here}bench/lib/http-upstream.ts`, {})
  servers.set('upstream', upstream)
  const upstreamUrl = `http://127.0.0.1:${upstream.port}/`
  const origins: [string, string][] = [['ours', here]]
  if (base !== undefined) origins.unshift(['base', base.endsWith('/') ? base : `${base}/`])
  for (const [name, root] of origins) {
    servers.set(
      name,
      await startNodeScript(
        name,
        `${root}bench/lib/http-node-origin.ts`,
        {
          GATEHOUSE_ISSUER: TEST_ISSUER,
          GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
          GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
          GATEHOUSE_LOG_LEVEL: 'info',
          GATEHOUSE_UPSTREAM_URL: upstreamUrl,
          PORT: '0',
        },
        name === 'base' ? baseFlags : [],
      ),
    )
  }
  servers.set(
    'bare',
    await startNodeScript('bare', `${here}bench/lib/http-peer-server.ts`, {
      UPSTREAM_URL: upstreamUrl,
    }),
  )
  const specs: RowSpec[] = []
  for (const [name] of origins) {
    specs.push(
      { id: `${name} /noop`, server: name, path: '/noop' },
      { id: `${name} /verify L1`, server: name, path: '/verify' },
      { id: `${name} gateway`, server: name, path: '/api/orders' },
    )
  }
  specs.push(
    { id: 'bare Hono /noop', server: 'bare', path: '/noop' },
    { id: 'bare fast-jwt cache', server: 'bare', path: '/fast-jwt-cache' },
    { id: 'bare hono/proxy', server: 'bare', path: '/proxy/api/orders' },
  )
  return {
    rows: specs.filter((s) => rowFilter === undefined || rowFilter.some((w) => s.id.includes(w))),
    origins: origins.map(([name]) => name),
  }
}
