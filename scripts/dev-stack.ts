/**
 * The local stack behind `npm run dev`, as a function so the end-to-end tests start exactly what
 * developers run: Redis (+ the Upstash REST bridge) or the memory store, the origin (`npm start`'s
 * entry, as a child process, with a generated config), the demo API, the edge Worker under
 * `wrangler dev`, and the example SPA. Every URL is decided here and handed to each part as config;
 * nothing derives a URL from a `Host` header. With L2, tenancy is on and two tenants are seeded
 * (scripts/dev-tenants.ts); the SPA's tenant picker signs in to any of them or the default issuer.
 *
 * @example
 * const stack = await startDevStack({ ports: DEFAULT_PORTS, log })
 * console.log(stack.urls.spa)
 * await stack.stop()
 */
import { join } from 'node:path'
import {
  DEMO_CLIENT_ID,
  DEMO_USER,
  writeDevConfig,
  writePrivateFile,
  type DevConfigOptions,
} from './dev-config.ts'
import { startDemoApi, type DemoApi } from './dev-demo-api.ts'
import { DEMO_POLICY_ROUTES, publishExamplePolicies } from './dev-policies.ts'
import { freePort } from './dev-ports.ts'
import { startChild, waitForHttp, type Child, type LogLine } from './dev-processes.ts'
import { startDevRedis, type DevRedis } from './dev-redis.ts'
import { REPO_ROOT, buildSpa, startSpaServer, type SpaServer } from './dev-spa.ts'
import { seedDevTenants, type DevTenant } from './dev-tenants.ts'

export interface DevPorts {
  edge: number
  origin: number
  api: number
  spa: number
}

export const DEFAULT_PORTS: DevPorts = { edge: 8787, origin: 8788, api: 8790, spa: 5173 }
const HOST = '127.0.0.1'

export interface DevStackOptions {
  ports: DevPorts
  /** Where the generated config goes. Default `<repo>/.dev`. */
  configDir?: string
  /**
   * L2: `'spawn'` (default) starts redis-server when installed, else the memory store; an Upstash
   * URL and token use that (tests pass their own redis + bridge); `'memory'` forces the memory store.
   */
  store?: 'spawn' | 'memory' | { url: string; token: string }
  tokens?: DevConfigOptions['tokens']
  scrypt?: DevConfigOptions['scrypt']
  log: LogLine
  /** Aborting during start-up stops what already runs and rejects with `StartAborted`. */
  signal?: AbortSignal
}

export class StartAborted extends Error {
  override readonly name = 'StartAborted'
}

export interface DevStack {
  urls: { edge: string; origin: string; api: string; spa: string; upstream: string }
  demo: { clientId: string; username: string; password: string }
  /** The seeded tenants (none without L2: tenancy needs it). */
  tenants: DevTenant[]
  /** 'redis' when a real Redis backs the store, 'memory' otherwise. */
  store: 'redis' | 'memory'
  configPath: string
  /** Resolves with the name of the first child process (origin, edge) that exits on its own. */
  childExited: Promise<string>
  stop(): Promise<void>
}

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const { ports, log } = options
  const urls = {
    edge: `http://${HOST}:${ports.edge}`,
    origin: `http://${HOST}:${ports.origin}`,
    api: `http://${HOST}:${ports.edge}/api`,
    spa: `http://${HOST}:${ports.spa}`,
    upstream: `http://${HOST}:${ports.api}`,
  }
  const stoppers: (() => Promise<void>)[] = []
  let stopped: Promise<void> | undefined
  // Idempotent, and every caller waits for the same stop.
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // Reverse order: the SPA and edge first, Redis last.
      for (const s of stoppers.splice(0).reverse()) await s().catch(() => undefined)
    })())
  const onAbort = (): void => void stop()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  /** Registers a stopper; after an abort, stops it at once and ends the start-up. */
  const started = async (stopper: () => Promise<void>): Promise<void> => {
    if (options.signal?.aborted) {
      await stopper().catch(() => undefined)
      throw new StartAborted('start-up aborted')
    }
    stoppers.push(stopper)
  }
  try {
    let upstash: { url: string; token: string } | undefined
    if (typeof options.store === 'object') upstash = options.store
    else if (options.store !== 'memory') {
      const redis: DevRedis | undefined = await startDevRedis({ cwd: REPO_ROOT, log })
      if (redis) {
        await started(() => redis.stop())
        upstash = { url: redis.url, token: redis.token }
      }
    }

    const configDir = options.configDir ?? join(REPO_ROOT, '.dev')
    const configPath = await writeDevConfig({
      dir: configDir,
      issuer: urls.origin,
      spaOrigin: urls.spa,
      apiAudience: urls.api,
      ...(options.tokens ? { tokens: options.tokens } : {}),
      ...(options.scrypt ? { scrypt: options.scrypt } : {}),
    })
    // Tenancy needs L2 (docs/tenancy.md): two tenants beside the default issuer.
    const tenants = upstash
      ? await seedDevTenants({
          store: upstash,
          origin: urls.origin,
          spaOrigin: urls.spa,
          ...(options.scrypt ? { scrypt: options.scrypt } : {}),
        })
      : []
    if (tenants.length > 0)
      log('dev', `tenants: ${tenants.map((t) => `${t.id} (${t.issuer})`).join(', ')}`)

    const origin: Child = startChild(
      'origin',
      process.execPath,
      [
        '--experimental-strip-types',
        '--no-warnings=ExperimentalWarning',
        join(REPO_ROOT, 'src/entry/node.ts'),
      ],
      {
        cwd: REPO_ROOT,
        log,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'development',
          HOST,
          PORT: String(ports.origin),
          GATEHOUSE_CONFIG: configPath,
          GATEHOUSE_AUDIENCE: urls.api,
          GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS: '2',
          ...(upstash
            ? { UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token }
            : {}),
          ...(tenants.length > 0 ? { GATEHOUSE_TENANCY: 'true' } : {}),
        },
      },
    )
    await started(() => origin.stop())

    const api: DemoApi = await startDemoApi({ port: ports.api, host: HOST })
    await started(() => api.close())

    const vars: Record<string, string> = {
      GATEHOUSE_ISSUER: urls.origin,
      GATEHOUSE_AUDIENCE: urls.api,
      // http is accepted for loopback only (config.ts); the origin publishes its JWKS here.
      GATEHOUSE_JWKS_URL: `${urls.origin}/.well-known/jwks.json`,
      GATEHOUSE_ORIGIN_URL: urls.origin,
      GATEHOUSE_UPSTREAM_URL: urls.upstream,
      GATEHOUSE_ALLOWED_ORIGINS: urls.spa,
      ...(tenants.length > 0 ? { GATEHOUSE_TENANCY: 'true' } : {}),
    }
    // Cedar decides two demo routes at the edge; the policy sets live in L2 (docs/policy.md).
    if (upstash) {
      const version = await publishExamplePolicies(upstash)
      log('dev', `published examples/policies/ as policy set version ${version}`)
      vars.GATEHOUSE_POLICY_ROUTES = JSON.stringify(DEMO_POLICY_ROUTES)
    } else {
      log('dev', 'no L2: the Cedar policy routes are off')
    }
    // The edge reads L2 (edge revocation) with the same Upstash URL and token. The token goes in a 0600
    // file passed with --env-file, not with --var: argv is visible to every local user in `ps`.
    const edgeEnvFile = join(configDir, 'edge.env')
    await writePrivateFile(
      edgeEnvFile,
      upstash
        ? `UPSTASH_REDIS_REST_URL=${upstash.url}\nUPSTASH_REDIS_REST_TOKEN=${upstash.token}\n`
        : '',
    )
    const edge: Child = startChild(
      'edge',
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/wrangler/bin/wrangler.js'),
        'dev',
        // The Worker with the Cedar engine (worker.ts leaves it out).
        join(REPO_ROOT, 'src/entry/worker-cedar.ts'),
        '--ip',
        HOST,
        '--port',
        String(ports.edge),
        '--inspector-port',
        String(await freePort()),
        '--show-interactive-dev-session=false',
        '--env-file',
        edgeEnvFile,
        ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
      ],
      {
        cwd: REPO_ROOT,
        log,
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          // No network lookups for the Request.cf placeholder (tests never reach the internet).
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        },
      },
    )
    await started(() => edge.stop())

    // Generous: on a busy machine (tests beside other work) wrangler dev alone can take half a minute.
    const [files] = await Promise.all([
      buildSpa(),
      waitForHttp(`${urls.origin}/healthz`, { child: origin, timeoutMs: 60_000 }),
      waitForHttp(`${urls.edge}/healthz`, { child: edge, timeoutMs: 90_000 }),
    ])
    const spa: SpaServer = await startSpaServer({
      port: ports.spa,
      host: HOST,
      files,
      config: {
        issuer: urls.origin,
        clientId: DEMO_CLIENT_ID,
        redirectUri: `${urls.spa}/callback`,
        postLogoutRedirectUri: `${urls.spa}/`,
        apiUrl: urls.api,
        ...(tenants.length > 0
          ? {
              tenants: [
                {
                  id: 'default',
                  name: 'Default issuer',
                  issuer: urls.origin,
                  clientId: DEMO_CLIENT_ID,
                },
                ...tenants.map(({ id, name, issuer, clientId }) => ({
                  id,
                  name,
                  issuer,
                  clientId,
                })),
              ],
            }
          : {}),
      },
    })
    await started(() => spa.close())

    return {
      urls,
      demo: {
        clientId: DEMO_CLIENT_ID,
        username: DEMO_USER.username,
        password: DEMO_USER.password,
      },
      tenants,
      store: upstash ? 'redis' : 'memory',
      configPath,
      childExited: Promise.race([
        origin.exited.then(() => 'origin'),
        edge.exited.then(() => 'edge'),
      ]),
      stop,
    }
  } catch (e) {
    await stop()
    throw options.signal?.aborted ? new StartAborted('start-up aborted') : e
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
