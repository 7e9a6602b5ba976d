/**
 * The real processes the raw-HTTP fuzz suite talks to over sockets:
 *
 *   upstream (node:http, in this process, never a 5xx)
 *   origin: dist/entry/node.js as the image runs it, with GATEHOUSE_CONFIG and the gateway on
 *   edge:   the bundled Worker (src/entry/worker.ts) under `workerd serve`, its gateway on the same
 *           upstream and its origin proxy on the origin, breaker threshold 1 (one counted failure
 *           opens it, so a client that could move it would be seen)
 *
 * plus an access token from the origin for the gateways.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { bundleWorker, startWorkerd } from '../../bench/lib/http-workerd.ts'
import { startOriginProcess, ROOT, type NodeProcess } from '../support/node-process.ts'
import { API, ISSUER, SERVICE_SECRET, basic, testConfig } from '../unit/oauth/support.ts'

/** Small limits so oversized cases stay cheap: bodies past 64 KiB are refused on every path. */
export const BODY_LIMIT = 64 * 1024

export interface Runtime {
  name: 'node' | 'workerd'
  port: number
  /** Every stdout line (JSON log records, and anything else as `{ msg: line }`). */
  logs: Record<string, unknown>[]
}

export interface RawTargets {
  node: Runtime
  workerd: Runtime
  /** What the upstream received: the headers of each request. */
  upstreamSeen: IncomingHttpHeaders[]
  token: string
  close(): Promise<void>
}

const parse = (line: string): Record<string, unknown> => {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return { msg: line }
  }
}

export async function startRawTargets(): Promise<RawTargets> {
  const cleanup: (() => Promise<unknown>)[] = []
  try {
    const upstreamSeen: IncomingHttpHeaders[] = []
    const upstream = createServer((req, res) => {
      upstreamSeen.push(req.headers)
      req.resume()
      req.on('error', () => {})
      req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('upstream ok'))
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    cleanup.push(
      () =>
        new Promise((resolve) => {
          upstream.closeAllConnections()
          upstream.close(resolve)
        }),
    )
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`

    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-fuzz-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const configPath = join(dir, 'gatehouse.json')
    await writeFile(configPath, JSON.stringify(await testConfig()))
    const origin: NodeProcess = await startOriginProcess({
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_ISSUER: ISSUER,
      GATEHOUSE_AUDIENCE: API,
      GATEHOUSE_UPSTREAM_URL: upstreamUrl,
      GATEHOUSE_UPSTREAM_MAX_BODY_BYTES: String(BODY_LIMIT),
    })
    cleanup.push(() => origin.kill())

    const minted = await fetch(`${origin.url}/token`, {
      method: 'POST',
      headers: {
        Authorization: basic('service', SERVICE_SECRET),
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=read',
    })
    const { access_token: token } = (await minted.json()) as { access_token: string }
    const jwks = await (await fetch(`${origin.url}/.well-known/jwks.json`)).text()

    const compatibilityDate = /compatibility_date = "([\d-]+)"/.exec(
      readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'),
    )?.[1] as string
    const workDir = join(dir, 'workerd')
    // As wrangler.toml deploys it: no compatibility flags.
    const compatibilityFlags: string[] = []
    const modules = await bundleWorker(compatibilityDate, {
      entry: 'src/entry/worker.ts',
      workDir,
      compatibilityFlags,
    })
    const edgeLogs: Record<string, unknown>[] = []
    const edge = await startWorkerd(modules, {
      compatibilityDate,
      compatibilityFlags,
      workDir,
      onStdout: (line) => edgeLogs.push(parse(line)),
      vars: {
        GATEHOUSE_ISSUER: ISSUER,
        GATEHOUSE_AUDIENCE: API,
        GATEHOUSE_JWKS: jwks,
        GATEHOUSE_UPSTREAM_URL: upstreamUrl,
        GATEHOUSE_UPSTREAM_MAX_BODY_BYTES: String(BODY_LIMIT),
        GATEHOUSE_ORIGIN_URL: origin.url,
        GATEHOUSE_ORIGIN_FAILURE_THRESHOLD: '1',
        GATEHOUSE_ORIGIN_OPEN_SECONDS: '3600',
      },
    })
    cleanup.push(() => edge.stop())

    return {
      node: { name: 'node', port: origin.port, logs: origin.logs },
      workerd: { name: 'workerd', port: edge.port, logs: edgeLogs },
      upstreamSeen,
      token,
      async close() {
        for (const step of cleanup.reverse()) await step().catch(() => {})
      },
    }
  } catch (e) {
    for (const step of cleanup.reverse()) await step().catch(() => {})
    throw e
  }
}
