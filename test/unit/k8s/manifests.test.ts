/**
 * The origin's manifests: every YAML file parses, every rendered object passes the Kubernetes API
 * schema of its kind, and both overlays pass the deployment policy — which provably fails when a
 * violation is injected.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseDocument } from 'yaml'
import { parseManifests, renderKustomization, type Manifest } from './kustomize.ts'
import { checkPolicy } from './policy.ts'
import {
  K8S,
  OVERLAYS,
  filesUnder,
  originContainer,
  originDeployment,
  render,
  validateManifest,
} from './support.ts'

describe('k8s-fallback manifests', () => {
  it('every YAML and JSON file parses; every non-kustomization YAML is a named Kubernetes object', () => {
    const files = filesUnder(K8S, '.yaml')
    expect(files.length).toBeGreaterThanOrEqual(14)
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      if (file.endsWith('/kustomization.yaml')) expect(parseDocument(text).errors).toEqual([])
      else expect(parseManifests(text, file).length).toBeGreaterThan(0)
    }
    for (const file of filesUnder(K8S, '.json'))
      expect(() => JSON.parse(readFileSync(file, 'utf8'))).not.toThrow()
  })

  it.each(OVERLAYS)(
    '%s renders the full set, each valid against the Kubernetes API schema',
    (o) => {
      const manifests = render(o)
      expect(manifests.map((m) => m.kind).sort()).toEqual([
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'Ingress',
        'Namespace',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ])
      for (const m of manifests) expect(() => validateManifest(m), `${m.kind}`).not.toThrow()
    },
  )

  it('the schema check rejects broken manifests', () => {
    const manifests = render('production')
    const deployment = structuredClone(manifests.find((m) => m.kind === 'Deployment')) as Manifest
    ;(deployment.spec as { replicas: unknown }).replicas = 'three'
    expect(() => validateManifest(deployment)).toThrow(/replicas/)

    const noPort = structuredClone(manifests.find((m) => m.kind === 'Service')) as Manifest
    ;(noPort.spec as { ports: { port?: number }[] }).ports.forEach((p) => delete p.port)
    expect(() => validateManifest(noPort)).toThrow(/port/)

    const oldHpa = structuredClone(manifests.find((m) => m.kind === 'HorizontalPodAutoscaler'))
    expect(() => validateManifest({ ...oldHpa, apiVersion: 'autoscaling/v1' } as Manifest)).toThrow(
      /apiVersion/,
    )
  })

  it.each(OVERLAYS)('%s passes the deployment policy', (o) => {
    expect(checkPolicy(render(o))).toEqual([])
  })

  it('the unrendered base fails the policy: its image is a placeholder for the overlays to pin', () => {
    expect(checkPolicy(renderKustomization(join(K8S, 'base')))).toEqual([
      expect.stringMatching(/image "gatehouse-origin" must be pinned/),
    ])
  })

  const violations: [string, (m: Manifest[]) => void, RegExp][] = [
    [
      'a latest tag',
      (m) => (originContainer(m).image = 'registry.example.com/gatehouse-origin:latest'),
      /latest/,
    ],
    ['an untagged image', (m) => (originContainer(m).image = 'gatehouse-origin'), /pinned/],
    ['a root user', (m) => (originContainer(m).securityContext!.runAsUser = 0), /runAsUser/],
    [
      'runAsNonRoot off',
      (m) => (originContainer(m).securityContext!.runAsNonRoot = false),
      /runAsNonRoot/,
    ],
    ['no readiness probe', (m) => delete originContainer(m).readinessProbe, /readinessProbe/],
    ['no liveness probe', (m) => delete originContainer(m).livenessProbe, /livenessProbe/],
    ['no startup probe', (m) => delete originContainer(m).startupProbe, /startupProbe/],
    [
      'no memory limit',
      (m) => delete originContainer(m).resources!.limits!.memory,
      /limits\.memory/,
    ],
    ['no cpu request', (m) => delete originContainer(m).resources!.requests!.cpu, /requests\.cpu/],
    [
      'privilege escalation',
      (m) => (originContainer(m).securityContext!.allowPrivilegeEscalation = true),
      /allowPrivilegeEscalation/,
    ],
    [
      'an added capability',
      (m) => (originContainer(m).securityContext!.capabilities!.add = ['NET_ADMIN']),
      /capabilities/,
    ],
    [
      'a writable root',
      (m) => (originContainer(m).securityContext!.readOnlyRootFilesystem = false),
      /readOnly/,
    ],
    [
      'an automounted token',
      (m) => (originDeployment(m).spec!.template.spec!.automountServiceAccountToken = true),
      /automountServiceAccountToken/,
    ],
    [
      'a service account that automounts',
      (m) => {
        const sa = m.find((x) => x.kind === 'ServiceAccount')!
        sa.automountServiceAccountToken = true
      },
      /ServiceAccount .*automount/,
    ],
    [
      'maxUnavailable 1',
      (m) => (originDeployment(m).spec!.strategy!.rollingUpdate!.maxUnavailable = 1),
      /maxUnavailable 0/,
    ],
    [
      'a grace period shorter than the drain',
      (m) => (originDeployment(m).spec!.template.spec!.terminationGracePeriodSeconds = 15),
      /terminationGracePeriodSeconds/,
    ],
    ['no preStop sleep', (m) => delete originContainer(m).lifecycle, /preStop/],
    [
      'service links',
      (m) => delete originDeployment(m).spec!.template.spec!.enableServiceLinks,
      /enableServiceLinks/,
    ],
    [
      'no PDB',
      (m) =>
        m.splice(
          m.findIndex((x) => x.kind === 'PodDisruptionBudget'),
          1,
        ),
      /PodDisruptionBudget/,
    ],
    [
      'no HPA',
      (m) =>
        m.splice(
          m.findIndex((x) => x.kind === 'HorizontalPodAutoscaler'),
          1,
        ),
      /HorizontalPodAutoscaler/,
    ],
    [
      'an ingress-only NetworkPolicy',
      (m) =>
        ((
          m.find((x) => x.kind === 'NetworkPolicy')!.spec as { policyTypes: string[] }
        ).policyTypes = ['Ingress']),
      /NetworkPolicy/,
    ],
    [
      'a Secret in the manifests',
      (m) =>
        m.push({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 's' },
          stringData: { k: 'v' },
        }),
      /Secret s/,
    ],
    [
      'a private key in the ConfigMap',
      (m) => {
        const cm = m.find((x) => x.kind === 'ConfigMap')!
        const data = cm.data as Record<string, string>
        data['config.json'] = JSON.stringify({ keys: [{ kty: 'EC', d: 'x' }] })
      },
      /private key/,
    ],
  ]

  it.each(violations)('the policy fails on %s', (_name, inject, message) => {
    const manifests = render('production')
    inject(manifests)
    const found = checkPolicy(manifests)
    expect(found.length).toBeGreaterThan(0)
    expect(found.join('\n')).toMatch(message)
  })
})
