/**
 * What `kubectl apply -k` of an overlay needs around the origin: its Namespace (Pod Security
 * "restricted", which the pods meet) and an Ingress that routes exactly what the edge forwards to the
 * origin — the minting routes, discovery and the JWKS — plus /verify, never /metrics or /admin, to
 * the Service's port, behind TLS, through the ingress controller the NetworkPolicy admits.
 */
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import type { IService } from 'kubernetes-models/v1'
import { describe, expect, it } from 'vitest'
import { MINTING_PATHS } from '../../../src/http/origin-proxy.ts'
import { OVERLAYS, render, type Overlay } from './support.ts'

const of = <T>(overlay: Overlay, kind: string): T =>
  render(overlay).find((m) => m.kind === kind) as unknown as T

/** Does an Ingress path of type Prefix match `path` (element-wise, as Kubernetes defines it)? */
const prefixMatches = (prefix: string, path: string): boolean =>
  path === prefix || path.startsWith(`${prefix.replace(/\/$/, '')}/`)

describe.each(OVERLAYS)('%s overlay', (overlay) => {
  const manifests = render(overlay)
  const namespace = manifests.find((m) => m.kind === 'Deployment')?.metadata.namespace as string

  it('renders the Namespace every other object lives in, enforcing Pod Security "restricted"', () => {
    const ns = manifests.filter((m) => m.kind === 'Namespace')
    expect(ns.map((m) => m.metadata.name)).toEqual([namespace])
    expect(ns[0]?.metadata.namespace).toBeUndefined()
    expect(ns[0]?.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    })
    for (const m of manifests.filter((x) => x.kind !== 'Namespace'))
      expect(m.metadata.namespace, `${m.kind} ${m.metadata.name}`).toBe(namespace)
  })

  it('routes what the edge forwards and /verify, and nothing else, to the Service over TLS', () => {
    const ingress = of<IIngress>(overlay, 'Ingress')
    const service = of<IService>(overlay, 'Service')
    const rules = ingress.spec?.rules ?? []
    expect(rules.length).toBe(1)
    const paths = rules[0]?.http?.paths ?? []
    const routed = (path: string) =>
      paths.some((p) => p.pathType === 'Prefix' && prefixMatches(p.path ?? '', path))

    const forwarded = [
      ...MINTING_PATHS.map((p) => p.replace('/*', '/x')),
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
      '/.well-known/jwks.json',
      '/verify',
    ]
    expect(forwarded.filter((p) => !routed(p))).toEqual([])
    for (const internal of ['/metrics', '/readyz', '/healthz', '/admin/users/u-1/revoke', '/'])
      expect(routed(internal), internal).toBe(false)

    for (const p of paths) {
      expect(p.backend.service?.name).toBe(service.metadata?.name)
      const port = p.backend.service?.port
      expect(service.spec?.ports?.some((sp) => sp.name === port?.name)).toBe(true)
    }
    const host = rules[0]?.host as string
    expect(host).toMatch(/^[a-z0-9.-]+\.[a-z]{2,}$/)
    expect(ingress.spec?.tls?.flatMap((t) => t.hosts ?? [])).toEqual([host])
  })

  it('goes through the ingress controller the NetworkPolicy lets in (class nginx ↔ namespace ingress-nginx)', () => {
    const ingress = of<IIngress>(overlay, 'Ingress')
    const policy = of<INetworkPolicy>(overlay, 'NetworkPolicy')
    expect(ingress.spec?.ingressClassName).toBe('nginx')
    const admitted = (policy.spec?.ingress ?? []).flatMap((rule) =>
      (rule.from ?? []).map(
        (f) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'],
      ),
    )
    expect(admitted).toContain('ingress-nginx')
  })
})
