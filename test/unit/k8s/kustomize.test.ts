/**
 * The test renderer itself: strategic merge, images, namespace, labels, configMapGenerator with
 * kustomize's hash suffix (vectors from the kubernetes.io kustomize task page), components, and a
 * loud failure on anything unsupported.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  configMapHashSuffix,
  parseImage,
  renderKustomization,
  strategicMerge,
  type Manifest,
} from './kustomize.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Writes `files` (path → content) into a fresh temp dir and returns it. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-kustomize-'))
  dirs.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: { name: app }
spec:
  selector: { matchLabels: { app: a } }
  template:
    metadata: { labels: { app: a } }
    spec:
      containers:
        - name: main
          image: app
          args: [--one, --two]
          env:
            - { name: A, value: '1' }
            - { name: B, value: '2' }
      volumes:
        - name: config
          configMap: { name: settings }
`
const BASE = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml]
configMapGenerator:
  - name: settings
    files: [config.json]
`

const deploymentOf = (ms: Manifest[]) => ms.find((m) => m.kind === 'Deployment') as Manifest
const containerOf = (ms: Manifest[]) =>
  (deploymentOf(ms).spec as { template: { spec: { containers: Record<string, unknown>[] } } })
    .template.spec.containers[0] as Record<string, unknown>
const volumeRef = (ms: Manifest[]) =>
  (deploymentOf(ms).spec as { template: { spec: { volumes: { configMap: { name: string } }[] } } })
    .template.spec.volumes[0]?.configMap.name

describe('test kustomize renderer', () => {
  it('computes kustomize name suffixes (vectors from kubernetes.io, "Declarative Management ... Using Kustomize")', () => {
    expect(
      configMapHashSuffix('example-configmap-1', { 'application.properties': 'FOO=Bar\n' }),
    ).toBe('8mbdf7882g')
    expect(configMapHashSuffix('example-configmap-2', { FOO: 'Bar' })).toBe('g2hdhfc6tk')
  })

  it('strategic merge: containers and env merge by name, null deletes, plain lists are replaced', () => {
    const target = {
      spec: {
        replicas: 2,
        containers: [{ name: 'main', args: ['a', 'b'], env: [{ name: 'A', value: '1' }] }],
      },
    }
    const patch = {
      spec: {
        replicas: null,
        containers: [
          {
            name: 'main',
            args: ['c'],
            env: [
              { name: 'A', value: '9' },
              { name: 'Z', value: 'z' },
            ],
          },
        ],
      },
    }
    expect(strategicMerge(target, patch)).toEqual({
      spec: {
        containers: [
          {
            name: 'main',
            args: ['c'],
            env: [
              { name: 'A', value: '9' },
              { name: 'Z', value: 'z' },
            ],
          },
        ],
      },
    })
    expect(target.spec.replicas).toBe(2)
    expect(() => strategicMerge(target, { spec: { containers: [{ image: 'x' }] } })).toThrow(
      /merge key/,
    )
    expect(() => strategicMerge(target, { spec: { $patch: 'replace' } })).toThrow(/directives/)
  })

  it('parses image references, registry ports included', () => {
    expect(parseImage('app')).toEqual({ name: 'app' })
    expect(parseImage('reg:5000/app:1.2')).toEqual({ name: 'reg:5000/app', tag: '1.2' })
    expect(parseImage('reg:5000/app@sha256:ab')).toEqual({
      name: 'reg:5000/app',
      digest: 'sha256:ab',
    })
  })

  it('renders an overlay: patch, images, namespace, labels, replaced config and the hashed reference', () => {
    const root = tree({
      'base/kustomization.yaml': BASE,
      'base/deployment.yaml': DEPLOYMENT,
      'base/config.json': '{"a":1}',
      'overlay/kustomization.yaml': `kind: Kustomization
namespace: prod
resources: [../base]
labels:
  - pairs: { env: prod }
    includeTemplates: true
images:
  - { name: app, newName: reg.example/app, newTag: '2.0' }
configMapGenerator:
  - { name: settings, behavior: replace, files: [config.json] }
patches:
  - path: patch.yaml
`,
      'overlay/patch.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: app }
spec:
  template:
    spec:
      containers:
        - name: main
          env: [{ name: B, value: patched }]
`,
      'overlay/config.json': '{"a":2}',
    })
    const base = renderKustomization(join(root, 'base'))
    const out = renderKustomization(join(root, 'overlay'))
    const cm = out.find((m) => m.kind === 'ConfigMap') as Manifest
    expect(cm.data).toEqual({ 'config.json': '{"a":2}' })
    expect(cm.metadata.name).toBe(
      `settings-${configMapHashSuffix('settings', { 'config.json': '{"a":2}' })}`,
    )
    expect(cm.metadata.annotations).toBeUndefined()
    // A config change renames the ConfigMap, and the Deployment follows: that is what rolls the pods.
    expect(volumeRef(out)).toBe(cm.metadata.name)
    expect(volumeRef(base)).not.toBe(volumeRef(out))
    expect(containerOf(out)).toMatchObject({
      image: 'reg.example/app:2.0',
      args: ['--one', '--two'],
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: 'patched' },
      ],
    })
    for (const m of out) {
      expect(m.metadata.namespace).toBe('prod')
      expect(m.metadata.labels).toMatchObject({ env: 'prod' })
    }
    const spec = deploymentOf(out).spec as { selector: unknown; template: { metadata: unknown } }
    expect(spec.selector).toEqual({ matchLabels: { app: 'a' } })
    expect(spec.template.metadata).toEqual({ labels: { app: 'a', env: 'prod' } })
  })

  it('renames a Namespace object to the namespace and leaves it cluster-scoped, as kustomize does', () => {
    const root = tree({
      'base/kustomization.yaml': 'kind: Kustomization\nresources: [ns.yaml, sa.yaml]\n',
      'base/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: { name: base-ns }\n',
      'base/sa.yaml': 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: sa }\n',
      'overlay/kustomization.yaml': 'kind: Kustomization\nnamespace: prod\nresources: [../base]\n',
    })
    const out = renderKustomization(join(root, 'overlay'))
    expect(out.map((m) => [m.kind, m.metadata.name, m.metadata.namespace])).toEqual([
      ['Namespace', 'prod', undefined],
      ['ServiceAccount', 'sa', 'prod'],
    ])
  })

  it('adds a component and pins by digest', () => {
    const root = tree({
      'base/kustomization.yaml': BASE,
      'base/deployment.yaml': DEPLOYMENT,
      'base/config.json': '{}',
      'comp/kustomization.yaml': 'kind: Component\nresources: [extra.yaml]\n',
      'comp/extra.yaml': 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: extra }\n',
      'overlay/kustomization.yaml':
        'kind: Kustomization\nresources: [../base]\ncomponents: [../comp]\nimages: [{ name: app, digest: "sha256:00" }]\n',
    })
    const out = renderKustomization(join(root, 'overlay'))
    expect(out.map((m) => m.kind)).toContain('ServiceAccount')
    expect(containerOf(out).image).toBe('app@sha256:00')
  })

  it('refuses what it does not implement, and files outside the kustomization root', () => {
    const unsupported = tree({
      'kustomization.yaml':
        'kind: Kustomization\nresources: []\nreplicas: [{ name: app, count: 3 }]\n',
    })
    expect(() => renderKustomization(unsupported)).toThrow(/unsupported field "replicas"/)
    const outside = tree({
      'base/config.json': '{}',
      'overlay/kustomization.yaml':
        'kind: Kustomization\nconfigMapGenerator: [{ name: c, files: [../base/config.json] }]\n',
    })
    expect(() => renderKustomization(join(outside, 'overlay'))).toThrow(/outside/)
    const missing = tree({
      'kustomization.yaml': 'kind: Kustomization\nresources: []\npatches: [{ path: p.yaml }]\n',
      'p.yaml': 'apiVersion: v1\nkind: Service\nmetadata: { name: nope }\n',
    })
    expect(() => renderKustomization(missing)).toThrow(/no Service nope to patch/)
  })
})
