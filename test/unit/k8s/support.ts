/**
 * Shared by the k8s tests: paths, the rendered overlays, schema validation by kind, and accessors for
 * the origin Deployment's container.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import {
  ConfigMap,
  Namespace,
  Service,
  ServiceAccount,
  type IContainer,
} from 'kubernetes-models/v1'
import { renderKustomization, type Manifest } from './kustomize.ts'

export const ROOT = new URL('../../../', import.meta.url).pathname
export const K8S = join(ROOT, 'k8s-fallback')
export const OVERLAYS = ['staging', 'production'] as const
export type Overlay = (typeof OVERLAYS)[number]

export const render = (overlay: Overlay): Manifest[] =>
  renderKustomization(join(K8S, 'overlays', overlay))

/** Every file under k8s-fallback/ with the given extension. */
export function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) return filesUnder(full, ext)
    return name.endsWith(ext) ? [full] : []
  })
}

interface Model {
  apiVersion: string
  validate(): void
}
type ModelClass = new (data: never) => Model

/** The Kubernetes API schema (kubernetes-models) for each built-in kind we ship. */
export const MODELS: Record<string, ModelClass> = {
  Deployment: Deployment as unknown as ModelClass,
  Service: Service as unknown as ModelClass,
  ServiceAccount: ServiceAccount as unknown as ModelClass,
  ConfigMap: ConfigMap as unknown as ModelClass,
  HorizontalPodAutoscaler: HorizontalPodAutoscaler as unknown as ModelClass,
  PodDisruptionBudget: PodDisruptionBudget as unknown as ModelClass,
  NetworkPolicy: NetworkPolicy as unknown as ModelClass,
  Namespace: Namespace as unknown as ModelClass,
  Ingress: Ingress as unknown as ModelClass,
}

/**
 * Throws when `m` breaks its kind's Kubernetes API schema or names another API version than the
 * one the schema is for (the models fill in apiVersion themselves, so check it separately).
 */
export function validateManifest(m: Manifest): void {
  const Model = MODELS[m.kind]
  if (!Model) throw new Error(`no schema for kind ${m.kind}`)
  const model = new Model(structuredClone(m) as never)
  if (model.apiVersion !== m.apiVersion)
    throw new Error(
      `${m.kind} ${m.metadata.name}: apiVersion ${m.apiVersion}, schema is for ${model.apiVersion}`,
    )
  model.validate()
}

export function originDeployment(manifests: Manifest[]): IDeployment {
  const d = manifests.find((m) => m.kind === 'Deployment')
  if (!d) throw new Error('no Deployment')
  return d as unknown as IDeployment
}

export function originContainer(manifests: Manifest[]): IContainer {
  const c = originDeployment(manifests).spec?.template.spec?.containers[0]
  if (!c) throw new Error('no container')
  return c
}
