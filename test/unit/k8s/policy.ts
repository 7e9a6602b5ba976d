/**
 * Deployment policy for the rendered origin manifests: the rules a cluster admission policy (Kyverno,
 * Gatekeeper, Pod Security "restricted") would enforce, plus our own zero-downtime invariants. Each
 * rule returns a message naming the resource, so a failing test says what to fix. Kept separate from
 * the tests so a test can inject a violation and prove each rule can fail.
 *
 * @example
 * expect(checkPolicy(renderKustomization('k8s-fallback/overlays/production'))).toEqual([])
 */
import type { IContainer, IPodSpec } from 'kubernetes-models/v1'
import type { IDeployment } from 'kubernetes-models/apps/v1'
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import type { IService, IServiceAccount } from 'kubernetes-models/v1'
import { parseImage, type Manifest } from './kustomize.ts'

/** Kubernetes resource quantity to a number (cores or bytes); NaN when unparseable. */
export function quantity(q: string | number | undefined): number {
  if (q === undefined) return NaN
  if (typeof q === 'number') return q
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q)
  if (!m) return NaN
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  }
  return Number(m[1]) * (m[2] === undefined ? 1 : (scale[m[2]] ?? NaN))
}

const envValue = (c: IContainer, name: string): string | undefined =>
  c.env?.find((e) => e.name === name)?.value

/** Seconds of the preStop hook: the `sleep` action or an `exec` of `sleep N`. */
export function preStopSeconds(c: IContainer): number {
  const hook = c.lifecycle?.preStop
  if (hook?.sleep) return hook.sleep.seconds
  const cmd = hook?.exec?.command
  if (cmd?.[0] === 'sleep' && cmd.length === 2) return Number(cmd[1])
  return 0
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v)

function checkContainer(where: string, c: IContainer, pod: IPodSpec, out: string[]): void {
  const at = `${where} container ${c.name}`
  const image = parseImage(c.image ?? '')
  if (image.digest === undefined && (image.tag === undefined || image.tag === 'latest'))
    out.push(
      `${at}: image "${c.image ?? ''}" must be pinned to a version tag or digest, not latest`,
    )
  const sc = c.securityContext ?? {}
  if (sc.allowPrivilegeEscalation !== false)
    out.push(`${at}: securityContext.allowPrivilegeEscalation must be false`)
  if (sc.privileged === true) out.push(`${at}: must not be privileged`)
  if (sc.readOnlyRootFilesystem !== true)
    out.push(`${at}: securityContext.readOnlyRootFilesystem must be true`)
  if (!sc.capabilities?.drop?.includes('ALL'))
    out.push(`${at}: securityContext.capabilities.drop must include ALL`)
  if ((sc.capabilities?.add ?? []).length > 0) out.push(`${at}: must not add capabilities`)
  const runAsNonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot
  const runAsUser = sc.runAsUser ?? pod.securityContext?.runAsUser
  if (runAsNonRoot !== true) out.push(`${at}: runAsNonRoot must be true`)
  if (runAsUser === undefined || runAsUser === 0)
    out.push(`${at}: runAsUser must be a numeric non-root UID (the kubelet verifies numbers only)`)
  const seccomp = sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
    out.push(`${at}: seccompProfile must be RuntimeDefault`)
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
    if (c[probe]?.httpGet?.path === undefined) out.push(`${at}: ${probe} (httpGet) is missing`)
  }
  const { requests, limits } = c.resources ?? {}
  for (const r of ['cpu', 'memory']) {
    const req = quantity(requests?.[r])
    const lim = quantity(limits?.[r])
    if (Number.isNaN(req)) out.push(`${at}: resources.requests.${r} is missing`)
    if (Number.isNaN(lim)) out.push(`${at}: resources.limits.${r} is missing`)
    if (req > lim) out.push(`${at}: resources.requests.${r} exceeds its limit`)
  }
  // Zero downtime: SIGKILL must never come before the drain finishes (k8s-fallback/README.md).
  const drain = Number(envValue(c, 'GATEHOUSE_DRAIN_DELAY_SECONDS') ?? 0)
  const shutdown = Number(envValue(c, 'GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS') ?? 10)
  const grace = pod.terminationGracePeriodSeconds ?? 30
  if (grace <= preStopSeconds(c) + drain + shutdown)
    out.push(
      `${at}: terminationGracePeriodSeconds (${grace}) must exceed preStop + drain delay + shutdown timeout (${preStopSeconds(c) + drain + shutdown})`,
    )
  if (preStopSeconds(c) <= 0)
    out.push(`${at}: a preStop sleep must let the endpoint removal propagate before SIGTERM`)
}

/**
 * Returns every violation in `manifests` (empty when all rules hold). Rules: pinned images; non-root,
 * no privilege escalation, no capabilities, read-only root, seccomp; all three probes; requests and
 * limits; no service-account token; no host namespaces; rolling update with maxUnavailable 0 and a
 * grace period longer than the drain; HPA, PDB, Service and NetworkPolicy that select the pods; no
 * Secret and no private key material in the rendered output.
 *
 * @example checkPolicy(manifests) // ['Deployment gatehouse-origin container origin: ...']
 */
export function checkPolicy(manifests: Manifest[]): string[] {
  const out: string[] = []
  const of = <T>(kind: string) => manifests.filter((m) => m.kind === kind) as unknown as T[]
  const deployments = of<IDeployment>('Deployment')
  if (deployments.length === 0) out.push('no Deployment')
  for (const d of deployments) {
    const where = `Deployment ${d.metadata?.name ?? '?'}`
    const pod = d.spec?.template.spec
    if (!pod) {
      out.push(`${where}: no pod spec`)
      continue
    }
    if (pod.automountServiceAccountToken !== false)
      out.push(`${where}: automountServiceAccountToken must be false`)
    const sa = of<IServiceAccount>('ServiceAccount').find(
      (s) => s.metadata?.name === pod.serviceAccountName,
    )
    if (!sa) out.push(`${where}: its ServiceAccount is not part of the manifests`)
    else if (sa.automountServiceAccountToken !== false)
      out.push(
        `ServiceAccount ${pod.serviceAccountName ?? ''}: automountServiceAccountToken must be false`,
      )
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push(`${where}: no host namespaces`)
    if (pod.enableServiceLinks !== false)
      out.push(`${where}: enableServiceLinks must be false (injected *_PORT variables)`)
    const strategy = d.spec?.strategy
    if (strategy?.type !== 'RollingUpdate' || strategy.rollingUpdate?.maxUnavailable !== 0)
      out.push(`${where}: strategy must be RollingUpdate with maxUnavailable 0`)
    if ((pod.topologySpreadConstraints ?? []).length < 2)
      out.push(`${where}: topologySpreadConstraints must spread across zones and nodes`)
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])])
      checkContainer(where, c, pod, out)

    const labels = d.spec?.template.metadata?.labels ?? {}
    if (!matches(d.spec?.selector.matchLabels, labels))
      out.push(`${where}: selector does not match its pod labels`)
    const name = d.metadata?.name
    const hpa = of<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler').find(
      (h) => h.spec?.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === name,
    )
    if (!hpa) out.push(`${where}: no HorizontalPodAutoscaler targets it`)
    else {
      if ((hpa.spec?.minReplicas ?? 1) < 2) out.push(`${where}: HPA minReplicas must be at least 2`)
      // With an HPA, a different `replicas` would resize the Deployment on every apply.
      if (d.spec?.replicas !== hpa.spec?.minReplicas)
        out.push(`${where}: replicas must equal the HPA's minReplicas`)
    }
    if (
      !of<IPodDisruptionBudget>('PodDisruptionBudget').some((p) =>
        matches(p.spec?.selector?.matchLabels, labels),
      )
    )
      out.push(`${where}: no PodDisruptionBudget selects its pods`)
    const ports = new Set(pod.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)))
    const services = of<IService>('Service').filter((s) => matches(s.spec?.selector, labels))
    if (services.length === 0) out.push(`${where}: no Service selects its pods`)
    for (const s of services)
      for (const p of s.spec?.ports ?? [])
        if (typeof p.targetPort !== 'string' || !ports.has(p.targetPort))
          out.push(`Service ${s.metadata?.name ?? ''}: targetPort must name a container port`)
    const policies = of<INetworkPolicy>('NetworkPolicy').filter((n) =>
      matches(n.spec?.podSelector.matchLabels, labels),
    )
    if (
      !policies.some(
        (n) => n.spec?.policyTypes?.includes('Ingress') && n.spec.policyTypes.includes('Egress'),
      )
    )
      out.push(`${where}: no NetworkPolicy restricts both its ingress and egress`)
  }
  for (const m of manifests) {
    // Secrets are created out of band or synced (README, "Secrets"): `apply -k` must not overwrite them.
    if (m.kind === 'Secret') out.push(`Secret ${m.metadata.name}: must not be in the manifests`)
    const data = Object.values((m.data ?? {}) as Record<string, string>)
    if (m.kind === 'ConfigMap' && data.some((v) => /"d"\s*:|PRIVATE KEY/.test(v)))
      out.push(`ConfigMap ${m.metadata.name}: contains private key material`)
  }
  return out
}
