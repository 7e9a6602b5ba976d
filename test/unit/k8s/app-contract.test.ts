/**
 * The manifests and the image cannot drift from the code: the ConfigMap's JSON config parses with the
 * origin's own config schema, every variable the Deployment sets is one the app reads (and holds a
 * value the app accepts), ports and paths agree across Deployment, Service and Dockerfile, and the
 * image starts the origin exactly as `npm start` does.
 */
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import type { IContainer, IPodSpec } from 'kubernetes-models/v1'
import { describe, expect, it } from 'vitest'
import { VERIFICATION_ENV_NAMES, verificationEnvShape } from '../../../src/core/config.ts'
import { parseOAuthConfig } from '../../../src/core/oauth/config.ts'
import { loadSigningKeys } from '../../../src/core/oauth/keys.ts'
import { privateJwks } from '../../fixtures/keys.ts'
import { originApp } from '../../support/node-process.ts'
import { containerArgv, parseDockerfile, type Stage } from './dockerfile.ts'
import { renderKustomization, type Manifest } from './kustomize.ts'
import {
  K8S,
  OVERLAYS,
  ROOT,
  filesUnder,
  originContainer,
  originDeployment,
  render,
  type Overlay,
} from './support.ts'

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> }
const dockerfile = parseDockerfile(read('k8s-fallback/Dockerfile'))
const runtime = dockerfile.stages.at(-1) as Stage
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op)

/** Names the app reads: the env schema's list plus literals / `env.X` accesses in src/entry. */
function namesTheAppReads(): Set<string> {
  const names = new Set(VERIFICATION_ENV_NAMES)
  for (const file of filesUnder(join(ROOT, 'src/entry'), '.ts')) {
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '')
    const pattern = /['"`]([A-Z][A-Z0-9_]+)['"`]|\benv\.([A-Z][A-Z0-9_]+)\b/g
    for (const m of code.matchAll(pattern)) names.add((m[1] ?? m[2]) as string)
  }
  return names
}

const env = (c: IContainer, name: string) => c.env?.find((e) => e.name === name)
const podSpec = (ms: Manifest[]) => originDeployment(ms).spec?.template.spec as IPodSpec
const configMapOf = (ms: Manifest[]) => ms.find((m) => m.kind === 'ConfigMap') as Manifest

/** The path a container sees for `key` of the volume named `volume` (mountPath + item path). */
function mountedPath(ms: Manifest[], volume: string, key: string): string | undefined {
  const mount = originContainer(ms).volumeMounts?.find((m) => m.name === volume)
  const v = podSpec(ms).volumes?.find((x) => x.name === volume)
  const item = (v?.secret?.items ?? v?.configMap?.items)?.find((i) => i.key === key)
  return mount ? posix.join(mount.mountPath, item?.path ?? key) : undefined
}

describe.each(OVERLAYS)('%s overlay against the app', (overlay: Overlay) => {
  const manifests = render(overlay)
  const container = originContainer(manifests)
  const cm = configMapOf(manifests)

  it("the ConfigMap's JSON config parses with the origin's config schema, without keys or users", () => {
    const data = cm.data as Record<string, string>
    const config = parseOAuthConfig(JSON.parse(data['config.json'] as string))
    expect(config.issuer).toBe(env(container, 'GATEHOUSE_ISSUER')?.value)
    // Private keys live in the Secret (GATEHOUSE_KEYS_FILE), users only in development configs.
    expect(config.keys).toEqual([])
    expect(config.users).toEqual([])
    expect(config.clients.length).toBeGreaterThan(0)
  })

  it('GATEHOUSE_CONFIG and GATEHOUSE_KEYS_FILE name the files the volumes mount', () => {
    const configVolume = podSpec(manifests).volumes?.find(
      (v) => v.configMap?.name === cm.metadata.name,
    )
    expect(configVolume).toBeDefined()
    expect(env(container, 'GATEHOUSE_CONFIG')?.value).toBe(
      mountedPath(manifests, configVolume?.name ?? '', 'config.json'),
    )
    expect(env(container, 'GATEHOUSE_KEYS_FILE')?.value).toBe(
      mountedPath(manifests, 'signing-keys', 'signing-keys.json'),
    )
  })

  it('sets only variables the app reads, with values its env schema accepts; secrets only by reference', () => {
    const known = namesTheAppReads()
    const set = (container.env ?? []).map((e) => e.name)
    expect(set.filter((n) => !known.has(n))).toEqual([])
    // DESIGN.md, Contracts: what `npm start` is configured from.
    for (const required of [
      'PORT',
      'GATEHOUSE_ISSUER',
      'GATEHOUSE_CONFIG',
      'UPSTASH_REDIS_REST_URL',
      'UPSTASH_REDIS_REST_TOKEN',
    ])
      expect(set).toContain(required)
    const shape = verificationEnvShape as Record<
      string,
      { safeParse(v: unknown): { success: boolean } }
    >
    for (const e of container.env ?? []) {
      if (e.value !== undefined && shape[e.name])
        expect(shape[e.name]?.safeParse(e.value).success, e.name).toBe(true)
      if (/TOKEN|SECRET|PASSWORD|_KEY$/.test(e.name))
        expect(e.valueFrom?.secretKeyRef, e.name).toBeDefined()
    }
    expect(container.envFrom ?? []).toEqual([])
  })

  it('PORT, the container port, the Service, the image and the scrape annotation agree', () => {
    const http = container.ports?.find((p) => p.name === 'http')
    expect(env(container, 'PORT')?.value).toBe(String(http?.containerPort))
    expect(ops(runtime, 'EXPOSE').map((i) => i.args)).toEqual([String(http?.containerPort)])
    const annotations = originDeployment(manifests).spec?.template.metadata?.annotations ?? {}
    expect(annotations['prometheus.io/port']).toBe(String(http?.containerPort))
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe])
      expect(probe?.httpGet?.port).toBe('http')
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz')
    expect(container.startupProbe?.httpGet?.path).toBe('/healthz')
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz')
  })

  it('the image runs as the user the pod declares, and the container does not override its command', () => {
    const [uid, gid] = (ops(runtime, 'USER').at(-1)?.args ?? '').split(':').map(Number)
    const sc = podSpec(manifests).securityContext
    expect(uid).toBeGreaterThan(0)
    expect([uid, gid]).toEqual([sc?.runAsUser, sc?.runAsGroup])
    expect(container.command).toBeUndefined()
    expect(container.args).toBeUndefined()
  })
})

describe('signing keys file', () => {
  it('the documented Secret format ({"keys": [private JWKs with kid, alg, status]}) loads', async () => {
    const file = { keys: [{ ...privateJwks.ES256, status: 'active' }] }
    const config = JSON.parse(
      (configMapOf(render('production')).data as Record<string, string>)['config.json'] as string,
    )
    const parsed = parseOAuthConfig({ ...config, keys: file.keys })
    const keys = await loadSigningKeys(parsed.keys)
    expect(keys.active.kid).toBe('test-es256')
    expect(JSON.stringify(keys.publicJwks())).not.toContain('"d"')
  })
})

describe('ExternalSecret component', () => {
  it('produces the Secret the Deployment reads, with every key it references', () => {
    // The production overlay with its commented-out `components:` lines enabled, as the README says.
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-eso-'))
    try {
      const overlay = join(K8S, 'overlays/production')
      for (const file of readdirSync(overlay)) cpSync(join(overlay, file), join(dir, file))
      const original = readFileSync(join(overlay, 'kustomization.yaml'), 'utf8')
      const enabled = original
        .replace('# components:\n#   - ../../components/', `components:\n  - ${K8S}/components/`)
        .replace('../../base', join(K8S, 'base'))
      expect(enabled).not.toBe(original)
      writeFileSync(join(dir, 'kustomization.yaml'), enabled)
      const manifests = renderKustomization(dir)
      const es = manifests.find((m) => m.kind === 'ExternalSecret') as Manifest
      const spec = es.spec as { target: { name: string }; data: { secretKey: string }[] }
      const pod = podSpec(manifests)
      const referenced = [
        ...(originContainer(manifests).env ?? []).flatMap((e) =>
          e.valueFrom?.secretKeyRef
            ? [`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]
            : [],
        ),
        ...(pod.volumes ?? []).flatMap((v) =>
          (v.secret?.items ?? []).map((i) => `${v.secret?.secretName ?? ''}/${i.key}`),
        ),
      ]
      expect(referenced.length).toBe(3)
      const provided = spec.data.map((d) => `${spec.target.name}/${d.secretKey}`)
      expect(provided.sort()).toEqual(referenced.sort())
      expect(es.metadata.namespace).toBe('gatehouse')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Dockerfile', () => {
  const stage = (name: string) => dockerfile.stages.find((s) => s.name === name) as Stage
  /** The image's ENTRYPOINT file, relative to its WORKDIR /app. */
  const entryFile = () => containerArgv(dockerfile).at(-1) as string

  it('starts exactly what `npm start` runs, with node as PID 1 (no npm, no shell)', () => {
    const start = packageJson.scripts.start?.replace(/^exec /, '').split(/\s+/)
    expect(containerArgv(dockerfile)).toEqual(start)
    // …and so do the tests and benchmarks that start the origin (originNodeOptions()).
    expect(['node', ...originApp().argv]).toEqual(start)
    expect(ops(runtime, 'WORKDIR').map((i) => i.args)).toEqual(['/app'])
    // The file exists where this run's build (npm run build:origin, the globalSetup) put it.
    expect(existsSync(join(originApp().dir, entryFile()))).toBe(true)
    expect(ops(runtime, 'STOPSIGNAL').map((i) => i.args)).toEqual(['SIGTERM'])
    expect(dockerfile.stages.flatMap((s) => ops(s, 'HEALTHCHECK'))).toEqual([])
    expect(ops(runtime, 'ENV').map((i) => i.args)).toContain('NODE_ENV=production')
  })

  it('uses the exact Node version the project is tested with, in every stage', () => {
    const { version } = JSON.parse(read('node_modules/node/package.json')) as { version: string }
    for (const stage of dockerfile.stages) {
      expect(stage.from).toMatch(
        new RegExp(`^node:${version.replaceAll('.', '\\.')}-[a-z]+-slim(@sha256:[0-9a-f]{64})?$`),
      )
    }
  })

  it('runs the build `npm start` runs (prestart) and ships only its dist/, with production dependencies', () => {
    expect(ops(stage('deps'), 'RUN').map((i) => i.args)).toContain(
      'npm ci --omit=dev --ignore-scripts --no-audit --no-fund',
    )
    const copies = ops(runtime, 'COPY').map((i) => i.args)
    expect(copies).toContain('--from=deps /app/node_modules ./node_modules')
    // The same build as `npm start`'s prestart, after the kernel it copies beside its loader.
    expect(packageJson.scripts.prestart).toBe('npm run --silent build:origin')
    expect(packageJson.scripts['build:origin']).toMatch(/scripts\/build-package\.ts --runtime$/)
    const builds = ops(stage('build'), 'RUN').map((i) => i.args)
    expect(builds.slice(-2)).toEqual(['npm run build:wasm', 'npm run build:origin'])
    const workdir = ops(stage('build'), 'WORKDIR').at(-1)?.args
    expect(copies).toContain(`--from=build ${workdir ?? ''}/dist ./dist`)
    expect(entryFile()).toMatch(/^dist\//)
    // Only the build's output and the manifest reach the runtime: no sources, no compiler.
    expect(copies.filter((c) => !c.startsWith('--from='))).toEqual(['package.json ./'])
    // load-node.ts reads './build/sbbf.wasm' relative to its own file; the build puts it there.
    expect(read('src/wasm/load-node.ts')).toContain("'./build/sbbf.wasm'")
    expect(existsSync(join(originApp().dir, 'dist/wasm/build/sbbf.wasm'))).toBe(true)
  })

  it('production dependencies suffice: every package the entry reaches at runtime is a dependency', () => {
    // npm installs peer dependencies with the production ones (`npm ci --omit=dev` keeps them).
    const pkg = JSON.parse(read('package.json')) as {
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
    }
    const installed = { ...pkg.dependencies, ...pkg.peerDependencies }
    const external = new Set<string>()
    const seen = new Set<string>()
    const visit = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      const code = readFileSync(file, 'utf8')
      // Value imports and re-exports (`import type` / `export type` never reach the built JavaScript).
      const specifiers = [
        ...code.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^;'"]*?from\s*['"]([^'"]+)['"]/gm),
        ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
        ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1] as string)
      for (const spec of specifiers) {
        if (spec.startsWith('.')) visit(join(file, '..', spec))
        else if (!spec.startsWith('node:'))
          external.add(
            spec
              .split('/')
              .slice(0, spec.startsWith('@') ? 2 : 1)
              .join('/'),
          )
      }
    }
    visit(join(originApp().dir, entryFile()))
    expect(seen.size).toBeGreaterThan(20)
    expect([...external].filter((name) => !(name in installed))).toEqual([])
  })

  it('its context is an allow-list that holds every file the build copies', () => {
    const lines = read('k8s-fallback/Dockerfile.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
    expect(lines[0]).toBe('*')
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''))
    expect(allowed.sort()).toEqual([
      'package-lock.json',
      'package.json',
      'scripts/build-package.ts',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ])
    for (const stage of dockerfile.stages)
      for (const copy of ops(stage, 'COPY').filter((i) => !i.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).slice(0, -1)
        for (const source of sources) {
          expect(
            allowed.some((a) => source === a || source.startsWith(`${a}/`)),
            source,
          ).toBe(true)
          expect(existsSync(join(ROOT, source)), source).toBe(true)
        }
      }
  })
})
