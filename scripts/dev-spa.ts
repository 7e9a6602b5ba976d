/**
 * The example SPA for `npm run dev` and `npm run build:spa`: bundles examples/spa/main.ts with esbuild
 * (`@gatehouse/auth/client` resolves to src/client through tsconfig.json `paths`) and serves it from a
 * small static server. The server also answers `/config.json` with the issuer, client id and API URL
 * of the running stack, so one bundle works on any ports.
 *
 * Headers: a CSP that allows scripts from this origin only and `connect-src` to the issuer and the
 * edge; `Referrer-Policy: no-referrer` so the `?code=` of a callback never leaks in a Referer
 * (RFC 9700 §4.2); `no-store` so a reload always gets the current bundle.
 */
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { listenLocal } from './dev-ports.ts'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const SPA_DIR = join(REPO_ROOT, 'examples', 'spa')

/** What the SPA reads from `/config.json`. */
export interface SpaConfig {
  issuer: string
  clientId: string
  redirectUri: string
  postLogoutRedirectUri: string
  /** The edge's gateway base, e.g. http://127.0.0.1:8787/api */
  apiUrl: string
  /** Issuers the SPA's tenant picker offers (the first is the default choice); docs/tenancy.md. */
  tenants?: { id: string; name: string; issuer: string; clientId: string }[]
}

export interface SpaFiles {
  'index.html': string
  'main.js': string
  'style.css': string
}

/**
 * Bundles the SPA in memory (or into `outdir` when given).
 *
 * @example const files = await buildSpa()
 */
export async function buildSpa(
  options: { outdir?: string; minify?: boolean } = {},
): Promise<SpaFiles> {
  const result = await build({
    entryPoints: [join(SPA_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: options.minify ?? false,
    sourcemap: false,
    write: false,
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  })
  const js = result.outputFiles[0]?.text
  if (js === undefined) throw new Error('esbuild produced no output')
  const files: SpaFiles = {
    'index.html': await readFile(join(SPA_DIR, 'index.html'), 'utf8'),
    'main.js': js,
    'style.css': await readFile(join(SPA_DIR, 'style.css'), 'utf8'),
  }
  if (options.outdir !== undefined) {
    const { mkdir, writeFile } = await import('node:fs/promises')
    await mkdir(options.outdir, { recursive: true })
    for (const [name, content] of Object.entries(files))
      await writeFile(join(options.outdir, name), content)
  }
  return files
}

export interface SpaServer {
  url: string
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'main.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}

/**
 * Serves the bundle: `/main.js`, `/style.css`, `/config.json`, and `index.html` for every other path
 * without a dot (`/`, `/callback`), as single-page apps expect.
 *
 * @example const spa = await startSpaServer({ port: 5173, files, config })
 */
export async function startSpaServer(options: {
  port: number
  host?: string
  files: SpaFiles
  config: SpaConfig
}): Promise<SpaServer> {
  const host = options.host ?? '127.0.0.1'
  const connect = [
    new URL(options.config.issuer).origin,
    new URL(options.config.apiUrl).origin,
    ...(options.config.tenants ?? []).map((t) => new URL(t.issuer).origin),
  ]
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${[...new Set(connect)].join(' ')}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  const configJson = JSON.stringify(options.config)
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const name = path === '/main.js' ? 'main.js' : path === '/style.css' ? 'style.css' : undefined
    const headers: Record<string, string> = {
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    }
    req.resume()
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end()
    } else if (path === '/config.json') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(configJson)
    } else if (name !== undefined) {
      res
        .writeHead(200, { ...headers, 'Content-Type': TYPES[name] as string })
        .end(options.files[name])
    } else if (!path.includes('.')) {
      res
        .writeHead(200, {
          ...headers,
          'Content-Type': TYPES['index.html'] as string,
          'Content-Security-Policy': csp,
        })
        .end(options.files['index.html'])
    } else {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found')
    }
  })
  return listenLocal(server, host, options.port)
}
