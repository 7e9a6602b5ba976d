/**
 * The published package, checked the way a user meets it (packed-app.ts): what the tarball holds,
 * every `exports` subpath imported by plain Node 22 and by the system Node (20), a consumer
 * type-checked under NodeNext and under bundler resolution (strict) together with every docs example,
 * the docs examples run against the installed package, the client bundled for the browser and the middleware for a
 * Worker with their sizes recorded (bench/results/package-sizes.local.json), and the CLI bin.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { freePort } from '../../scripts/dev-ports.ts'
import { WORKERD_BIN, bundleWorker, writeWorkerdConfig } from '../../scripts/workerd.ts'
import { until } from '../support/poll.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  NODES,
  OLDEST_SUPPORTED_MAJOR,
  ROOT,
  exportTargets,
  packIntoApp,
  run,
  specifierOf,
  type PackedApp,
} from './packed-app.ts'

const EXAMPLES = join(ROOT, 'docs/examples')
/** The Worker middleware bundle must stay under this (minified), so a Worker stays small. */
const MIDDLEWARE_BUDGET_BYTES = 150 * 1024

let app: PackedApp

beforeAll(() => {
  app = packIntoApp()
}, 400_000)
afterAll(() => app?.close())

describe('the tarball', () => {
  it('ships dist/ (JavaScript and declarations), the WebAssembly kernel, README and package.json only', () => {
    const unexpected = app.files.filter(
      (f) =>
        !/^dist\/.+\.(js|d\.ts)$/.test(f) &&
        !['dist/wasm/build/sbbf.wasm', 'README.md', 'package.json'].includes(f),
    )
    expect(unexpected).toEqual([])
    expect(app.files).toContain('dist/wasm/build/sbbf.wasm')
    expect(app.files.filter((f) => /(^|\/)test\/|\.test\.|^src\/|^dist\/spa\//.test(f))).toEqual([])
    const wasm = readFileSync(join(app.packageDir, 'dist/wasm/build/sbbf.wasm'))
    expect(WebAssembly.validate(wasm)).toBe(true)
  })

  it('declares what it needs: hono as a peer, oauth4webapi for the client, Node >= 20', () => {
    const { manifest } = app
    expect(manifest.name).toMatch(/^@[a-z0-9-]+\/[a-z0-9-]+$/)
    expect(Object.keys(manifest.peerDependencies)).toEqual(['hono'])
    expect(manifest.dependencies).not.toHaveProperty('hono')
    expect(manifest.dependencies).toHaveProperty('oauth4webapi')
    expect(manifest.engines.node).toBe(`>=${OLDEST_SUPPORTED_MAJOR}`)
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (subpath === './package.json') continue
      expect(Object.keys(target as object).slice(0, 2), subpath).toEqual(['types', 'import'])
    }
  })

  it('has every exports target and bin on disk, and declarations free of .ts specifiers', () => {
    const { manifest } = app
    const targets = Object.values(manifest.exports).flatMap((t) =>
      typeof t === 'string' ? [t] : Object.values(t),
    )
    for (const target of [...targets, ...Object.values(manifest.bin)])
      expect(existsSync(join(app.packageDir, target)), target).toBe(true)
    const withTs = app.files
      .filter((f) => f.endsWith('.d.ts'))
      .filter((f) =>
        /from\s+['"]\.{1,2}\/[^'"]*\.ts['"]/.test(readFileSync(join(app.packageDir, f), 'utf8')),
      )
    expect(withTs).toEqual([])
  })

  it('declares every package its JavaScript and declarations import (entries and CLI too)', () => {
    const declared = new Set([
      ...Object.keys(app.manifest.dependencies),
      ...Object.keys(app.manifest.peerDependencies),
    ])
    const imported = new Set<string>()
    for (const file of app.files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
      // Without comments: doc comments show imports of the package itself as examples.
      const text = readFileSync(join(app.packageDir, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
      for (const m of text.matchAll(
        /(?:from\s*|import\s*\(\s*|import\s+)['"]([^'".][^'"]*)['"]/g,
      )) {
        const name = /^(@[^/]+\/[^/]+|[^/]+)/.exec(m[1] as string)?.[1] as string
        if (!name.startsWith('node:')) imported.add(name)
      }
    }
    expect(imported.size).toBeGreaterThan(3)
    expect([...imported].filter((name) => !declared.has(name)).sort()).toEqual([])
  })

  it('maps each subpath to the source the repository resolves the same name to (tsconfig paths)', () => {
    const paths = (
      JSON.parse(
        readFileSync(join(ROOT, 'tsconfig.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''),
      ) as { compilerOptions: { paths: Record<string, string[]> } }
    ).compilerOptions.paths
    const expected = Object.fromEntries(
      Object.entries(exportTargets(app.manifest)).map(([subpath, target]) => [
        specifierOf(app.manifest, subpath),
        [target.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')],
      ]),
    )
    expect(paths).toEqual(expected)
  })

  it('the pinned development Node (the `node` devDependency) satisfies devEngines', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devEngines: { runtime: { name: string; version: string } }
    }
    const pinned = JSON.parse(readFileSync(join(ROOT, 'node_modules/node/package.json'), 'utf8'))
      .version as string
    expect(pkg.devEngines.runtime.name).toBe('node')
    expect(pkg.devEngines.runtime.version).toBe(
      `>=${pinned.split('.')[0]} <${Number(pinned.split('.')[0]) + 1}`,
    )
    expect(process.version).toBe(`v${pinned}`)
  })
})

describe('plain Node imports every subpath', () => {
  const versions: Record<string, string> = {}
  afterAll(() => console.log('package imported with Node', versions))
  for (const [label, node] of Object.entries(NODES)) {
    it(`with ${label}`, () => {
      // ./policy/worker imports the engine's .wasm as a module, which only a Worker bundler loads
      // (the Cedar describe below bundles it with wrangler and runs it in workerd).
      const specifiers = Object.keys(exportTargets(app.manifest))
        .filter((s) => s !== './policy/worker')
        .map((s) => specifierOf(app.manifest, s))
      const script = `
        const out = {}
        for (const s of ${JSON.stringify(specifiers)}) out[s] = Object.keys(await import(s)).sort()
        const { loadNodeCedar } = await import('${app.manifest.name}/policy/node')
        const cedar = loadNodeCedar().getCedarVersion()
        console.log(JSON.stringify({ version: process.version, out, cedar }))`
      const result = run(node, ['--input-type=module', '-e', script], { cwd: app.dir })
      const { version, out, cedar } = JSON.parse(result.stdout) as {
        version: string
        out: Record<string, string[]>
        cedar: string
      }
      if (label === 'pinned') expect(version).toBe(process.version)
      else
        expect(Number(/^v(\d+)\./.exec(version)?.[1])).toBeGreaterThanOrEqual(
          OLDEST_SUPPORTED_MAJOR,
        )
      versions[label] = version
      expect(out[app.manifest.name]).toEqual(expect.arrayContaining(['createApp', 'requireAuth']))
      expect(out[`${app.manifest.name}/middleware`]).toEqual(
        expect.arrayContaining(['requireAuth', 'buildVerifier', 'AuthError']),
      )
      expect(out[`${app.manifest.name}/middleware`]).not.toContain('createApp')
      expect(out[`${app.manifest.name}/client`]).toEqual(
        expect.arrayContaining(['createGatehouseClient', 'GatehouseClientError']),
      )
      expect(out[`${app.manifest.name}/policy`]).toEqual(
        expect.arrayContaining(['authorize', 'createPolicySets', 'publishPolicySet']),
      )
      expect(out[`${app.manifest.name}/policy/node`]).toEqual(['loadNodeCedar'])
      expect(cedar).toMatch(/^4\./)
    })
  }
})

/** Copies docs/examples into the app and writes a consumer that touches every subpath's types. */
function writeConsumer(): string[] {
  const dir = join(app.dir, 'src')
  mkdirSync(dir, { recursive: true })
  const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'))
  for (const file of examples) copyFileSync(join(EXAMPLES, file), join(dir, file))
  writeFileSync(
    join(dir, 'consumer.ts'),
    `import { Hono } from 'hono'
import { createApp, silentLogger, type AppDeps, type VerifiedToken } from '${app.manifest.name}'
import { requireAuth, AuthError, type RequireAuthOptions } from '${app.manifest.name}/middleware'
import { createGatehouseClient, type AuthState } from '${app.manifest.name}/client'

const options: RequireAuthOptions = { issuer: 'https://i', audience: 'https://a', jwks: { keys: [] } }
const api = new Hono().use('/x/*', requireAuth(options))
api.get('/x/me', (c) => {
  const token: VerifiedToken = c.get('auth')
  return c.text(token.claims.sub)
})
const deps: Pick<AppDeps, 'role' | 'logger'> = { role: 'edge', logger: silentLogger }
export const parts = [createApp, deps, AuthError, createGatehouseClient] as const
export type State = AuthState
`,
  )
  return examples
}

/** Type-checks the consumer and every docs example with `tsc -p` under the given options. */
function typecheck(name: string, options: Record<string, unknown>): void {
  writeConsumer()
  const tsconfig = join(app.dir, `tsconfig.${name}.json`)
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: ['node'],
        strict: true,
        skipLibCheck: false,
        ...options,
      },
      include: ['src'],
    }),
  )
  run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
    cwd: app.dir,
  })
}

describe('a TypeScript consumer with every docs example', () => {
  it('type-checks (strict) under NodeNext, and the compiled examples run on the pinned and the system Node', () => {
    typecheck('NodeNext', {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      rootDir: 'src',
      outDir: 'out',
    })
    // The Worker with requireAuth and the edge app: 401 without a token, 200 with one.
    writeFileSync(join(app.dir, 'run-examples.mjs'), RUN_EXAMPLES)
    for (const node of Object.values(NODES)) {
      const result = run(node, ['run-examples.mjs'], { cwd: app.dir })
      expect(JSON.parse(result.stdout)).toEqual({
        worker: { anonymous: 401, signedIn: 200, body: { owner: 'user-1' }, wrongScope: 403 },
        edge: { anonymous: 401, signedIn: 200, sub: 'user-1' },
      })
    }
  }, 300_000)

  it('type-checks its server side for a Node-only project (no DOM lib, only @types/node)', () => {
    // As @tsconfig/node22 sets it up: the middleware and the app need no browser types.
    writeConsumer()
    const server = join(app.dir, 'server')
    mkdirSync(server, { recursive: true })
    for (const file of ['worker-require-auth.ts', 'edge-app.ts'])
      copyFileSync(join(EXAMPLES, file), join(server, file))
    writeFileSync(
      join(server, 'consumer.ts'),
      `import { createApp, parseVerificationConfig, type VerifiedToken } from '${app.manifest.name}'
import { buildVerifier, requireAuth, type TokenVerifier } from '${app.manifest.name}/middleware'
export const parts = [createApp, parseVerificationConfig, buildVerifier, requireAuth] as const
export type Parts = [VerifiedToken, TokenVerifier]
`,
    )
    const tsconfig = join(app.dir, 'tsconfig.node-only.json')
    writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2024'],
          types: ['node'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        include: ['server'],
      }),
    )
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
      cwd: app.dir,
    })
  }, 300_000)

  it('type-checks (strict, exactOptionalPropertyTypes) under bundler resolution', () => {
    typecheck('Bundler', {
      module: 'ESNext',
      moduleResolution: 'Bundler',
      noEmit: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
    })
  }, 300_000)
})

/**
 * Signs tokens as the example issuer, serves its JWKS through a stubbed global fetch (the examples
 * fetch https://auth.example.com/.well-known/jwks.json), and calls the examples' apps.
 */
const RUN_EXAMPLES = `
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
const { publicKey, privateKey } = await generateKeyPair('ES256')
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
globalThis.fetch = async (input) => {
  const url = String(input instanceof Request ? input.url : input)
  if (url !== 'https://auth.example.com/.well-known/jwks.json') throw new Error('unexpected fetch ' + url)
  return Response.json({ keys: [jwk] })
}
const token = (scope) =>
  new SignJWT({ scope, client_id: 'c1' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer('https://auth.example.com').setAudience('https://api.example.com')
    .setSubject('user-1').setIssuedAt().setExpirationTime('5m').setJti(crypto.randomUUID())
    .sign(privateKey)
const bearer = async (scope) => ({ headers: { authorization: 'Bearer ' + (await token(scope)) } })

const worker = (await import('./out/worker-require-auth.js')).default
const signedIn = await worker.request('/orders/mine', await bearer('orders:read'))
const edge = (await import('./out/edge-app.js')).default
const verified = await edge.request('/verify', await bearer('read'))
console.log(JSON.stringify({
  worker: {
    anonymous: (await worker.request('/orders/mine')).status,
    signedIn: signedIn.status,
    body: await signedIn.json(),
    wrongScope: (await worker.request('/orders/mine', await bearer('other'))).status,
  },
  edge: {
    anonymous: (await edge.request('/verify')).status,
    signedIn: verified.status,
    sub: (await verified.json()).sub,
  },
}))
`

describe('bundles', () => {
  const sizes: Record<string, number> = {}
  afterAll(() => {
    const out = join(ROOT, 'bench/results/package-sizes.local.json')
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
    writeFileSync(out, `${JSON.stringify({ minifiedBytes: sizes }, null, 2)}\n`)
    console.log('package bundle sizes (minified bytes):', sizes)
  })

  /** esbuild as wrangler bundles a Worker: ESM, neutral platform, workerd/worker conditions. */
  async function bundle(
    name: string,
    contents: string,
    platform: 'browser' | 'worker',
  ): Promise<number> {
    const result = await build({
      stdin: { contents, resolveDir: app.dir, loader: 'ts', sourcefile: `${name}.ts` },
      bundle: true,
      minify: true,
      format: 'esm',
      write: false,
      logLevel: 'silent',
      target: 'es2022',
      ...(platform === 'browser'
        ? { platform: 'browser' }
        : {
            platform: 'neutral',
            conditions: ['workerd', 'worker', 'browser'],
            mainFields: ['module', 'main'],
          }),
    })
    const bytes = result.outputFiles[0]?.contents.byteLength ?? 0
    sizes[name] = bytes
    return bytes
  }

  it('the client bundles for the browser', async () => {
    const bytes = await bundle(
      'client (createGatehouseClient)',
      `export { createGatehouseClient } from '${app.manifest.name}/client'`,
      'browser',
    )
    expect(bytes).toBeGreaterThan(1000)
    const example = await bundle(
      'docs/examples/spa-client.ts',
      readFileSync(join(EXAMPLES, 'spa-client.ts'), 'utf8'),
      'browser',
    )
    expect(example).toBeGreaterThan(bytes)
  })

  it(`the Worker middleware (requireAuth) is at most ${MIDDLEWARE_BUDGET_BYTES / 1024} KB minified`, async () => {
    const bytes = await bundle(
      'middleware (requireAuth)',
      `export { requireAuth } from '${app.manifest.name}/middleware'`,
      'worker',
    )
    expect(bytes).toBeLessThanOrEqual(MIDDLEWARE_BUDGET_BYTES)
    // A whole Worker: the docs example, hono included.
    const worker = await bundle(
      'docs/examples/worker-require-auth.ts (with hono)',
      readFileSync(join(EXAMPLES, 'worker-require-auth.ts'), 'utf8'),
      'worker',
    )
    expect(worker).toBeLessThanOrEqual(MIDDLEWARE_BUDGET_BYTES)
  })

  it('Cedar: authorize from ./policy bundles for a Worker without the engine or any WebAssembly', async () => {
    // esbuild has no loader for .wasm here: an import of the engine's module would fail the build.
    const bytes = await bundle(
      'policy (authorize, createPolicySets)',
      `export { authorize, createPolicySets } from '${app.manifest.name}/policy'`,
      'worker',
    )
    expect(bytes).toBeGreaterThan(1000)
    await expect(
      bundle(
        'policy engine for Workers',
        `export { loadWorkerCedar } from '${app.manifest.name}/policy/worker'`,
        'worker',
      ),
    ).rejects.toThrow(/wasm/)
  })

  it('the edge app (createApp) bundles for a Worker', async () => {
    const bytes = await bundle(
      'edge app (createApp, buildVerifier)',
      `export { createApp, buildVerifier } from '${app.manifest.name}'`,
      'worker',
    )
    expect(bytes).toBeGreaterThan(sizes['middleware (requireAuth)'] ?? 0)
  })
})

describe('the CLI bin', () => {
  it('runs from the installed package on the system Node: --help exits 0 with the usage on stdout', () => {
    const bin = join(app.packageDir, app.manifest.bin.gatehouse as string)
    const result = run(NODES.system, [bin, '--help'], { cwd: app.dir })
    expect(result.stdout).toMatch(/^usage: gatehouse/m)
    expect(result.stderr).toBe('')
  })
})

/**
 * A Worker built from the installed package, as its user would: `authorize` from ./policy, the
 * engine from ./policy/worker, bundled by wrangler (which ships the engine's .wasm as a module) and
 * served by workerd. It publishes a set to an in-memory store and decides two requests.
 */
const CEDAR_WORKER = `
import { Hono } from 'hono'
import { authorize, createPolicySets, publishPolicySet } from '${'${NAME}'}/policy'
import { loadWorkerCedar } from '${'${NAME}'}/policy/worker'

const data = new Map()
const store = {
  get: async (key) => data.get(key) ?? null,
  set: async (key, value) => (data.set(key, value), true),
  delete: async (...keys) => keys.filter((key) => data.delete(key)).length,
  compareAndSwap: async (key, expected, next) => {
    if ((data.get(key) ?? null) !== expected) return false
    next === null ? data.delete(key) : data.set(key, next)
    return true
  },
}
const policySets = createPolicySets({ store, engine: loadWorkerCedar, refreshSeconds: 1 })
const app = new Hono()
app.use('/documents/*', async (c, next) => {
  // Stands in for requireAuth: the verified token authorize reads.
  c.set('auth', { header: { alg: 'ES256' }, claims: { sub: c.req.header('x-sub'), scope: 'read' } })
  await next()
})
app.get('/documents/:id', authorize({ policySets, resource: { type: 'Document', param: 'id' } }), (c) =>
  c.text('allowed ' + c.req.param('id')),
)
app.post('/publish', async (c) => {
  const result = await publishPolicySet(store, loadWorkerCedar(), {
    tenant: 'default',
    schema: \`entity User = { scope: Set<String> }; entity Document;
      action "GET /documents/:id" appliesTo { principal: [User], resource: [Document] };\`,
    sources: [{ name: 'docs.cedar', text: \`@id("alice-reads") permit (principal == User::"alice",
      action == Action::"GET /documents/:id", resource is Document);\` }],
  })
  return c.json({ ok: result.ok, cedar: loadWorkerCedar().getCedarVersion() })
})
export default app
`

describe('Cedar from the package in a Worker', () => {
  it('Cedar: wrangler bundles ./policy/worker with the engine .wasm, and workerd decides with it', async () => {
    const dir = join(app.dir, 'cedar-worker')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'index.ts'), CEDAR_WORKER.replaceAll('${NAME}', app.manifest.name))
    const settings = { compatibilityDate: '2026-11-01', compatibilityFlags: [] }
    const wranglerConfig = join(dir, 'wrangler.toml')
    writeFileSync(
      wranglerConfig,
      `name = "cedar-worker"\nmain = "index.ts"\ncompatibility_date = "${settings.compatibilityDate}"\n`,
    )
    const out = join(dir, 'out')
    const modules = await bundleWorker(wranglerConfig, out)
    const wasm = modules.filter((m) => m.endsWith('.wasm'))
    expect(wasm).toHaveLength(1)
    const engineWasm = readFileSync(join(out, wasm[0] as string))
    expect(WebAssembly.validate(engineWasm)).toBe(true)
    expect(engineWasm.byteLength).toBeGreaterThan(1_000_000)

    const port = await freePort()
    const configPath = writeWorkerdConfig({
      configPath: join(dir, 'config.capnp'),
      bundleDir: out,
      modules,
      settings,
      vars: {},
      port,
    })
    const workerd = spawn(WORKERD_BIN, ['serve', configPath], { cwd: dir, stdio: 'ignore' })
    const exited = once(workerd, 'exit')
    try {
      const url = `http://127.0.0.1:${port}`
      await until(
        () =>
          fetch(`${url}/documents/x`).then(
            () => true,
            () => false,
          ),
        60_000,
        'workerd serving the Cedar Worker',
      )
      const get = (sub: string) => fetch(`${url}/documents/42`, { headers: { 'x-sub': sub } })
      // No set published yet: fail closed.
      expect((await get('alice')).status).toBe(403)
      const published = await fetch(`${url}/publish`, { method: 'POST' })
      expect(await published.json()).toMatchObject({
        ok: true,
        cedar: expect.stringMatching(/^4\./),
      })
      // The isolate re-reads L2 at most every refreshSeconds (1 here) after finding no set.
      await until(async () => (await get('alice')).status === 200, 30_000, 'the set in force')
      const allowed = await get('alice')
      expect(await allowed.text()).toBe('allowed 42')
      const denied = await get('bob')
      expect(denied.status).toBe(403)
      expect(await denied.json()).toMatchObject({ error: 'access_denied' })
    } finally {
      workerd.kill('SIGKILL')
      await exited
    }
  })
})
