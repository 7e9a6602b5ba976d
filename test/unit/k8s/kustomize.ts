/**
 * A small kustomize for the tests: renders k8s-fallback/ the way `kubectl apply -k` would, supporting
 * exactly the features our manifests use — resources (files and directories), components,
 * configMapGenerator (files, literals; behavior create/replace/merge; kustomize's content-hash name
 * suffix and the references to it), strategic-merge patches by file, images, namespace and labels.
 * Anything else in a kustomization throws, so a manifest can never use a feature these tests would
 * silently ignore. There is no kustomize binary on this machine (and no internet to fetch one).
 *
 * @example
 * const manifests = renderKustomization('k8s-fallback/overlays/production')
 * const deployment = manifests.find((m) => m.kind === 'Deployment')
 */
import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { basename, join, relative, resolve, sep } from 'node:path'
import { parseAllDocuments } from 'yaml'

export interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Record<
    string,
    unknown
  >
  [field: string]: unknown
}

type Json = Record<string, unknown>

/** Marks a generated ConfigMap until the top-level render adds the hash suffix (then removed). */
const GENERATED = 'internal.gatehouse.test/generated'

const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'configMapGenerator',
  'patches',
  'images',
  'namespace',
  'labels',
])

/** Strategic-merge keys (from the Kubernetes API's patchMergeKey) for the lists our patches touch. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

const fail = (where: string, message: string): never => {
  throw new Error(`kustomize: ${where}: ${message}`)
}

/** Parses every YAML document in `text` (comments and `---` separators allowed). */
export function parseManifests(text: string, where: string): Manifest[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) fail(where, doc.errors.map((e) => e.message).join('; '))
    const value: unknown = doc.toJS()
    if (value === null || value === undefined) return []
    if (!isObject(value) || typeof value.kind !== 'string' || typeof value.apiVersion !== 'string')
      return fail(where, 'every document must be an object with apiVersion and kind')
    if (!isObject(value.metadata) || typeof value.metadata.name !== 'string')
      return fail(where, `${value.kind} without metadata.name`)
    return [value as Manifest]
  })
}

/** kustomize keeps file references inside the kustomization's own directory (its load restrictor). */
function inside(root: string, path: string, where: string): string {
  const full = resolve(root, path)
  const rel = relative(root, full)
  if (rel.startsWith('..') || rel.startsWith(sep)) fail(where, `${path} is outside ${root}`)
  return full
}

function readKustomization(dir: string, kind: 'Kustomization' | 'Component'): Json {
  const where = join(dir, 'kustomization.yaml')
  const docs = parseAllDocuments(readFileSync(where, 'utf8'))
  const k: unknown = docs[0]?.toJS()
  if (docs.length !== 1 || !isObject(k)) return fail(where, 'must be one YAML object')
  if (k.kind !== kind) fail(where, `kind must be ${kind}`)
  for (const field of Object.keys(k))
    if (!KUSTOMIZATION_FIELDS.has(field)) fail(where, `unsupported field "${field}"`)
  return k
}

const list = (k: Json, field: string, where: string): unknown[] => {
  const v = k[field]
  if (v === undefined) return []
  return Array.isArray(v) ? v : fail(where, `${field} must be a list`)
}

/**
 * Strategic merge patch (the subset our patches need): objects merge recursively, `null` deletes a
 * field, lists named in MERGE_KEYS merge item by item on their key, every other list is replaced.
 */
export function strategicMerge(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field]
    if (key === undefined || !Array.isArray(target)) return structuredClone(patch)
    const merged = target.map((item) => structuredClone(item) as unknown)
    for (const item of patch) {
      if (!isObject(item) || item[key] === undefined)
        fail(`patch of ${field}`, `every item needs its merge key "${key}"`)
      const at = merged.findIndex((m) => isObject(m) && m[key] === (item as Json)[key])
      if (at === -1) merged.push(structuredClone(item))
      else merged[at] = strategicMerge(merged[at], item, field)
    }
    return merged
  }
  if (!isObject(patch)) return patch
  if (Object.keys(patch).some((k) => k.startsWith('$')))
    fail('patch', 'strategic-merge directives ($patch, $setElementOrder, ...) are not supported')
  const out: Json = isObject(target) ? structuredClone(target) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = strategicMerge(out[k], v, k)
  }
  return out
}

function generateConfigMaps(dir: string, k: Json, out: Manifest[], where: string): void {
  for (const gen of list(k, 'configMapGenerator', where)) {
    if (!isObject(gen) || typeof gen.name !== 'string') return fail(where, 'generator needs a name')
    for (const field of Object.keys(gen))
      if (!['name', 'files', 'literals', 'behavior', 'options'].includes(field))
        fail(where, `configMapGenerator: unsupported field "${field}"`)
    const data: Record<string, string> = {}
    for (const entry of list(gen, 'files', where)) {
      if (typeof entry !== 'string') return fail(where, 'files entries are strings')
      const [key, path] = entry.includes('=') ? entry.split('=', 2) : [basename(entry), entry]
      data[key as string] = readFileSync(inside(dir, path as string, where), 'utf8')
    }
    for (const entry of list(gen, 'literals', where)) {
      if (typeof entry !== 'string' || !entry.includes('=')) return fail(where, 'literal is k=v')
      const at = entry.indexOf('=')
      data[entry.slice(0, at)] = entry.slice(at + 1)
    }
    const options = isObject(gen.options) ? gen.options : {}
    for (const field of Object.keys(options))
      if (field !== 'disableNameSuffixHash') fail(where, `unsupported generator option "${field}"`)
    const hashed = options.disableNameSuffixHash !== true
    const behavior = gen.behavior ?? 'create'
    const existing = out.findIndex((m) => m.kind === 'ConfigMap' && m.metadata.name === gen.name)
    if (behavior === 'create') {
      if (existing !== -1) fail(where, `ConfigMap ${gen.name} already exists (use behavior)`)
      out.push({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: gen.name, ...(hashed ? { annotations: { [GENERATED]: 'true' } } : {}) },
        data,
      })
    } else if (behavior === 'replace' || behavior === 'merge') {
      const current = out[existing]
      if (!current) return fail(where, `ConfigMap ${gen.name} to ${behavior} does not exist`)
      current.data = behavior === 'replace' ? data : { ...(current.data as Json), ...data }
    } else fail(where, `unsupported behavior ${String(behavior)}`)
  }
}

function applyPatches(dir: string, k: Json, out: Manifest[], where: string): void {
  for (const entry of list(k, 'patches', where)) {
    if (!isObject(entry) || typeof entry.path !== 'string' || Object.keys(entry).length !== 1)
      return fail(where, 'only `- path: <strategic merge patch file>` patches are supported')
    const file = inside(dir, entry.path, where)
    for (const patch of parseManifests(readFileSync(file, 'utf8'), file)) {
      const at = out.findIndex(
        (m) =>
          m.kind === patch.kind &&
          m.apiVersion === patch.apiVersion &&
          m.metadata.name === patch.metadata.name,
      )
      if (at === -1) fail(file, `no ${patch.kind} ${patch.metadata.name} to patch`)
      out[at] = strategicMerge(out[at], patch) as Manifest
    }
  }
}

/** Pod templates of the workload kinds we use (the only places images and template labels live). */
function podTemplate(m: Manifest): Json | undefined {
  const spec = m.spec
  if (!isObject(spec)) return undefined
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(m.kind))
    return isObject(spec.template) ? spec.template : undefined
  return undefined
}

/** `name[:tag][@digest]`; a `:` before the last `/` is a registry port, not a tag. */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest, digest] = image.split('@', 2) as [string, string | undefined]
  const colon = rest.lastIndexOf(':')
  const hasTag = colon > rest.lastIndexOf('/')
  return {
    name: hasTag ? rest.slice(0, colon) : rest,
    ...(hasTag ? { tag: rest.slice(colon + 1) } : {}),
    ...(digest === undefined ? {} : { digest }),
  }
}

function applyImages(k: Json, out: Manifest[], where: string): void {
  for (const img of list(k, 'images', where)) {
    if (!isObject(img) || typeof img.name !== 'string') return fail(where, 'images need a name')
    for (const field of Object.keys(img))
      if (!['name', 'newName', 'newTag', 'digest'].includes(field))
        fail(where, `images: unsupported field "${field}"`)
    for (const m of out) {
      const pod = podTemplate(m)?.spec
      if (!isObject(pod)) continue
      for (const c of [...list(pod, 'containers', where), ...list(pod, 'initContainers', where)]) {
        if (!isObject(c) || typeof c.image !== 'string') continue
        const cur = parseImage(c.image)
        if (cur.name !== img.name) continue
        const name = typeof img.newName === 'string' ? img.newName : cur.name
        if (typeof img.digest === 'string') c.image = `${name}@${img.digest}`
        else {
          const tag = img.newTag === undefined ? cur.tag : String(img.newTag)
          c.image = `${name}${tag === undefined ? '' : `:${tag}`}${cur.digest ? `@${cur.digest}` : ''}`
        }
      }
    }
  }
}

function applyLabels(k: Json, out: Manifest[], where: string): void {
  for (const entry of list(k, 'labels', where)) {
    if (!isObject(entry) || !isObject(entry.pairs)) return fail(where, 'labels need pairs')
    if (entry.includeSelectors === true)
      fail(where, 'labels.includeSelectors: true is not supported (selectors are immutable)')
    const pairs = entry.pairs as Record<string, string>
    for (const m of out) {
      m.metadata.labels = { ...m.metadata.labels, ...pairs }
      const template = podTemplate(m)
      if (entry.includeTemplates === true && template) {
        const meta = isObject(template.metadata) ? template.metadata : (template.metadata = {})
        meta.labels = { ...(meta.labels as Json | undefined), ...pairs }
      }
    }
  }
}

function build(
  dir: string,
  kind: 'Kustomization' | 'Component',
  into: Manifest[] = [],
): Manifest[] {
  const k = readKustomization(dir, kind)
  const where = join(dir, 'kustomization.yaml')
  const out = into
  for (const entry of list(k, 'resources', where)) {
    if (typeof entry !== 'string') return fail(where, 'resources are paths')
    const full = resolve(dir, entry)
    if (statSync(full).isDirectory()) out.push(...build(full, 'Kustomization'))
    else out.push(...parseManifests(readFileSync(inside(dir, entry, where), 'utf8'), full))
  }
  for (const entry of list(k, 'components', where)) {
    if (typeof entry !== 'string') return fail(where, 'components are paths')
    build(resolve(dir, entry), 'Component', out)
  }
  generateConfigMaps(dir, k, out, where)
  applyPatches(dir, k, out, where)
  if (k.namespace !== undefined) {
    if (typeof k.namespace !== 'string') return fail(where, 'namespace must be a string')
    // kustomize's NamespaceTransformer: a Namespace object is renamed to the namespace (it is
    // cluster-scoped, so it gets no metadata.namespace); every other object we ship is namespaced.
    for (const m of out) {
      if (m.kind === 'Namespace') m.metadata.name = k.namespace
      else m.metadata.namespace = k.namespace
    }
  }
  applyLabels(k, out, where)
  applyImages(k, out, where)
  return out
}

/**
 * kustomize's name suffix for a generated ConfigMap (sigs.k8s.io/kustomize/api/hasher): SHA-256 of
 * the JSON `{"data":…,"kind":"ConfigMap","name":…}` as Go's encoding/json writes it (sorted keys,
 * `<>&` escaped), first 10 hex digits with 0 1 3 a e mapped to g h k m t so the suffix never looks
 * like a number or a word.
 */
export function configMapHashSuffix(name: string, data: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)))
  const goJson = JSON.stringify({ data: sorted, kind: 'ConfigMap', name }).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  const hex = createHash('sha256').update(goJson).digest('hex').slice(0, 10)
  const map: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' }
  return [...hex].map((c) => map[c] ?? c).join('')
}

/** Rewrites ConfigMap references in pod specs after the generated names got their suffix. */
function renameConfigMapRefs(out: Manifest[], renamed: Map<string, string>): void {
  const key = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`
  for (const m of out) {
    const pod = podTemplate(m)?.spec
    if (!isObject(pod)) continue
    const ns = m.metadata.namespace
    const swap = (ref: unknown): void => {
      if (isObject(ref) && typeof ref.name === 'string')
        ref.name = renamed.get(key(ns, ref.name)) ?? ref.name
    }
    for (const v of Array.isArray(pod.volumes) ? pod.volumes : []) {
      if (!isObject(v)) continue
      swap(v.configMap)
      if (isObject(v.projected) && Array.isArray(v.projected.sources))
        for (const s of v.projected.sources) if (isObject(s)) swap(s.configMap)
    }
    const containers = [
      ...(Array.isArray(pod.containers) ? pod.containers : []),
      ...(Array.isArray(pod.initContainers) ? pod.initContainers : []),
    ]
    for (const c of containers) {
      if (!isObject(c)) continue
      for (const e of Array.isArray(c.env) ? c.env : [])
        if (isObject(e) && isObject(e.valueFrom)) swap(e.valueFrom.configMapKeyRef)
      for (const e of Array.isArray(c.envFrom) ? c.envFrom : [])
        if (isObject(e)) swap(e.configMapRef)
    }
  }
}

/**
 * Renders the kustomization in `dir` (a directory with kustomization.yaml) to its list of manifests,
 * in kustomize's resource order (resources as listed, then generated ones).
 *
 * @example renderKustomization('k8s-fallback/overlays/staging').map((m) => m.kind)
 */
export function renderKustomization(dir: string): Manifest[] {
  const out = build(resolve(dir), 'Kustomization')
  const renamed = new Map<string, string>()
  for (const m of out) {
    const annotations = m.metadata.annotations as Record<string, string> | undefined
    if (annotations?.[GENERATED] === undefined) continue
    delete annotations[GENERATED]
    if (Object.keys(annotations).length === 0) delete m.metadata.annotations
    const name = `${m.metadata.name}-${configMapHashSuffix(m.metadata.name, m.data as Record<string, string>)}`
    renamed.set(`${m.metadata.namespace ?? ''}/${m.metadata.name}`, name)
    m.metadata.name = name
  }
  renameConfigMapRefs(out, renamed)
  return out
}
