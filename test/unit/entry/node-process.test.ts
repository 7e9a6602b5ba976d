/**
 * The Node entry as a process, started as the image does (`node dist/entry/node.js`, built from this
 * run's src/ by the globalSetup) and through the real `npm start` (which builds dist/ first):
 * /healthz and /verify answer, SIGTERM lets an in-flight request finish and exits 0, and a bad
 * variable exits 1 naming it on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../../fixtures/keys.ts'
import { originApp } from '../../support/node-process.ts'
import { testConfig } from '../oauth/support.ts'

const ROOT = new URL('../../../', import.meta.url).pathname

const children: ChildProcess[] = []
const servers: Server[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    server.close()
  }
})

const baseEnv = {
  PATH: process.env.PATH ?? '',
  PORT: '0',
  HOST: '127.0.0.1',
  GATEHOUSE_ISSUER: TEST_ISSUER,
  GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
  GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
}

/** A new temporary directory holding a minting origin's GATEHOUSE_CONFIG file (`config.json`). */
async function originConfigDir(prefix: string): Promise<{ dir: string; configPath: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const configPath = join(dir, 'config.json')
  await writeFile(configPath, JSON.stringify(await testConfig({ issuer: 'http://127.0.0.1:8788' })))
  return { dir, configPath }
}

/**
 * `viaNpm` runs the real `npm start` in the repository (its script must `exec` node so SIGTERM
 * reaches it); otherwise the image's ENTRYPOINT in this run's built /app.
 */
function start(env: Record<string, string>, viaNpm = false) {
  const app = originApp()
  const [command, args, cwd] = viaNpm
    ? ['npm', ['start', '--silent'], ROOT]
    : [process.execPath, app.argv, app.dir]
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const records: Record<string, unknown>[] = []
  const waiters: { msg: string; resolve: (r: Record<string, unknown>) => void }[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const record = JSON.parse(line) as Record<string, unknown>
    records.push(record)
    for (const w of waiters.filter((w) => w.msg === record.msg)) w.resolve(record)
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const waitFor = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const seen = records.find((r) => r.msg === msg)
      if (seen) resolve(seen)
      else waiters.push({ msg, resolve })
    })
  return { child, records, exited, waitFor, stderr: () => stderr }
}

/** An upstream that holds each request until released, to have a request in flight at SIGTERM. */
async function heldUpstream() {
  const held: ServerResponse[] = []
  let arrived: () => void = () => {}
  const firstArrival = new Promise<void>((resolve) => (arrived = resolve))
  const server = createServer((_req, res) => {
    held.push(res)
    arrived()
  })
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    firstArrival,
    release: () => held.forEach((res) => res.writeHead(200).end('slow done')),
  }
}

/** Opens a fresh TCP connection; resolves the error code it fails with, or 'connected'. */
function refusedConnection(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
  })
}

describe('node entry process', () => {
  it('npm start serves /healthz and /verify, then drains an in-flight request on SIGTERM and exits 0', async () => {
    const upstream = await heldUpstream()
    const proc = start({ ...baseEnv, GATEHOUSE_UPSTREAM_URL: upstream.url }, true)
    const { port } = await proc.waitFor('listening')
    const base = `http://127.0.0.1:${String(port)}`
    const token = await signTestToken({ scope: 'read' })
    const auth = { headers: { Authorization: `Bearer ${token}` } }

    const health = await fetch(`${base}/healthz`)
    expect(health.status).toBe(200)
    const verify = await fetch(`${base}/verify`, auth)
    expect(verify.status).toBe(200)
    expect(await verify.json()).toMatchObject({ active: true, sub: 'user-1', scope: 'read' })

    const inFlight = fetch(`${base}/api/slow`, auth)
    await upstream.firstArrival
    proc.child.kill('SIGTERM')
    await proc.waitFor('stopped accepting')
    // A new connection is refused while the old request is still running (fetch's pool would reuse
    // a kept-alive one, which is answered: see test/integration/entry/drain.test.ts).
    await expect(refusedConnection(Number(port))).resolves.toBe('ECONNREFUSED')
    upstream.release()
    const res = await inFlight
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('slow done')
    expect(await proc.exited).toBe(0)
    expect(JSON.stringify(proc.records)).not.toContain(token.split('.')[2])
  })

  it('exits 1 naming the variable when a value is bad', async () => {
    // Seven digits, which no timestamp or pid in the output can contain by chance (as `.999Z` can).
    const proc = start({ ...baseEnv, GATEHOUSE_CLOCK_LEEWAY_SECONDS: '1234567' })
    expect(await proc.exited).toBe(1)
    expect(proc.stderr()).toContain(
      'GATEHOUSE_CLOCK_LEEWAY_SECONDS: must be an integer between 0 and 60',
    )
    expect(proc.stderr()).not.toContain('1234567')
  })

  it('exits 1 naming the variable when a required one is missing', async () => {
    const proc = start({ ...baseEnv, GATEHOUSE_ISSUER: '' })
    expect(await proc.exited).toBe(1)
    expect(proc.stderr()).toContain('GATEHOUSE_ISSUER: is required')
  })
})

describe('a misconfigured origin', () => {
  let dir: string
  let configPath: string
  beforeAll(async () => {
    ;({ dir, configPath } = await originConfigDir('gatehouse-node-process-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  /** A stand-in for Upstash that records every request: any request is a side effect. */
  async function recordingStore() {
    const requests: string[] = []
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`)
      res.writeHead(500).end()
    })
    servers.push(server)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, requests }
  }

  const cases: [string, Record<string, string>, string[]][] = [
    ['a bad port', { PORT: '70000' }, ['PORT: must be an integer between 0 and 65535']],
    [
      'a gateway without an audience, and a misspelled variable',
      { GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:9', GATEHOUSE_ISUER: 'x' },
      [
        'GATEHOUSE_ISUER: is not a known variable (did you mean "GATEHOUSE_ISSUER"?)',
        'GATEHOUSE_AUDIENCE: is required with GATEHOUSE_UPSTREAM_URL (the gateway verifies)',
      ],
    ],
    [
      'a missing keys file',
      { GATEHOUSE_KEYS_FILE: '/nonexistent/keys.json' },
      [
        'GATEHOUSE_KEYS_FILE: cannot read /nonexistent/keys.json: no such file or directory (ENOENT)',
      ],
    ],
  ]
  for (const [what, patch, lines] of cases) {
    it(`exits 1 on ${what} before anything reaches L2 or a port`, async () => {
      const l2 = await recordingStore()
      const proc = start({
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        GATEHOUSE_CONFIG: configPath,
        UPSTASH_REDIS_REST_URL: l2.url,
        UPSTASH_REDIS_REST_TOKEN: 'test-token',
        ...patch,
      })
      expect(await proc.exited).toBe(1)
      for (const line of lines) expect(proc.stderr()).toContain(line)
      expect(l2.requests).toEqual([])
      expect(proc.records.map((r) => r.msg)).not.toContain('jwks published')
      expect(proc.records.map((r) => r.msg)).not.toContain('listening')
    })
  }

  it('mints without GATEHOUSE_AUDIENCE, serving no /verify', async () => {
    const proc = start({
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      GATEHOUSE_CONFIG: configPath,
    })
    const { port } = await proc.waitFor('listening')
    const base = `http://127.0.0.1:${String(port)}`
    expect((await fetch(`${base}/.well-known/openid-configuration`)).status).toBe(200)
    expect((await fetch(`${base}/verify`)).status).toBe(404)
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
  })
})

// Issue 15 item 6: a verification-only origin does not hold the minting origin's code (node-server.ts
// imports it at start only when GATEHOUSE_CONFIG is set).
describe('modules loaded at start', () => {
  const MINTING_ONLY = [
    'dist/entry/origin.js',
    'dist/http/admin-routes.js',
    'dist/http/oauth/routes.js',
    'dist/entry/node-token-fast-path.js',
    'dist/entry/origin-tenancy.js',
    'dist/store/upstash.js',
    'dist/wasm/load-node.js',
  ]
  let dir: string
  let configPath: string
  let hook: string
  beforeAll(async () => {
    ;({ dir, configPath } = await originConfigDir('gatehouse-node-modules-'))
    // Appends every module URL the process loads to $LOADED_MODULES.
    hook = join(dir, 'record-modules.mjs')
    await writeFile(
      hook,
      [
        "import { registerHooks } from 'node:module'",
        "import { appendFileSync } from 'node:fs'",
        'registerHooks({ load(url, context, next) {',
        "  appendFileSync(process.env.LOADED_MODULES, url + '\\n')",
        '  return next(url, context)',
        '} })',
      ].join('\n'),
    )
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  /** Starts the built origin with the hook, waits for `listening`, stops it: the built files loaded. */
  async function loadedFiles(name: string, env: Record<string, string>): Promise<string[]> {
    const app = originApp()
    const list = join(dir, `${name}.txt`)
    await writeFile(list, '')
    const child = spawn(process.execPath, ['--import', hook, ...app.argv], {
      cwd: app.dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        LOADED_MODULES: list,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    const exited = once(child, 'exit')
    for await (const line of createInterface({ input: child.stdout! }))
      if ((JSON.parse(line) as { msg?: string }).msg === 'listening') break
    child.kill('SIGTERM')
    await exited
    const prefix = `file://${app.dir}/`
    return (await readFile(list, 'utf8'))
      .split('\n')
      .filter((url) => url.startsWith(prefix))
      .map((url) => url.slice(prefix.length))
  }

  it('a verification-only origin loads none of the minting code; a minting origin loads it', async () => {
    const verifier = await loadedFiles('verifier', baseEnv)
    expect(verifier).toContain('dist/entry/node-server.js')
    expect(verifier).toContain('dist/entry/node-client-ip.js')
    for (const file of MINTING_ONLY) expect(verifier).not.toContain(file)

    const minting = await loadedFiles('minting', { GATEHOUSE_CONFIG: configPath })
    for (const file of MINTING_ONLY.filter((f) => !/tenancy|upstash/.test(f)))
      expect(minting).toContain(file)
  })
})
