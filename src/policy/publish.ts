/**
 * Publishing a tenant's policy set to L2, and reading it back. Publish = validate (prepare.ts), write
 * the new version's document under a fresh key, then swap the head from the version it read to the
 * new one in one compare-and-swap (a Lua script on Redis). A refused set writes nothing; a lost race
 * deletes its document and tries again on top of the winner (or fails, given `expectedVersion`).
 */
import type { Clock } from '../core/types.ts'
import type { Store } from '../store/types.ts'
import type { CedarModule } from './engine.ts'
import {
  HISTORY_LENGTH,
  MAX_DOCUMENT_BYTES,
  assertTenant,
  parsePolicyDocument,
  parsePolicyHead,
  policyHeadKey,
  policyVersionKey,
  type PolicyDocument,
  type PolicyHead,
} from './policy-document.ts'
import { preparePolicySet, type PolicyProblem, type PolicyFile } from './prepare.ts'

export type PolicyStore = Pick<Store, 'get' | 'set' | 'compareAndSwap' | 'delete'>

/** L2 holds something under a policy key that is not ours, or another publisher got in first. */
export class PolicyStoreError extends Error {
  override readonly name = 'PolicyStoreError'
  readonly code: 'head_invalid' | 'document_invalid' | 'version_conflict' | 'contended'

  constructor(code: PolicyStoreError['code'], message: string) {
    super(message)
    this.code = code
  }
}

export interface PublishInput {
  tenant: string
  schema: string | Record<string, unknown>
  sources: PolicyFile[]
  /** Publish only if this version is in force now (0: none is); else `version_conflict`. */
  expectedVersion?: number
  now?: Clock
}

export type PublishResult =
  | { ok: true; tenant: string; version: number; policies: string[]; warnings: PolicyProblem[] }
  | { ok: false; problems: PolicyProblem[]; warnings: PolicyProblem[] }

const ATTEMPTS = 5

/**
 * Validates and publishes; resolves the new version, or the problems that refused the set (then
 * nothing was written and the version in force stays).
 *
 * @example
 * const result = await publishPolicySet(store, loadNodeCedar(), { tenant: 'default', schema, sources })
 * if (result.ok) console.log(`version ${result.version} is in force`)
 */
export async function publishPolicySet(
  store: PolicyStore,
  engine: CedarModule,
  input: PublishInput,
): Promise<PublishResult> {
  assertTenant(input.tenant)
  const prepared = preparePolicySet(engine, input)
  if (!prepared.ok) return prepared
  const headKey = policyHeadKey(input.tenant)
  const now = input.now ?? Date.now

  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = await store.get(headKey)
    const head = current === null ? undefined : headOrThrow(current)
    const inForce = head?.version ?? 0
    if (input.expectedVersion !== undefined && input.expectedVersion !== inForce) {
      throw new PolicyStoreError(
        'version_conflict',
        `version ${inForce} is in force, not ${input.expectedVersion}`,
      )
    }
    const version = inForce + 1
    const publishedAt = new Date(now()).toISOString()
    const document: PolicyDocument = {
      format: 1,
      tenant: input.tenant,
      version,
      publishedAt,
      schema: prepared.set.schema,
      policies: prepared.set.policies,
    }
    const text = JSON.stringify(document)
    if (new TextEncoder().encode(text).length > MAX_DOCUMENT_BYTES) {
      return {
        ok: false,
        problems: [{ where: 'policies', message: `the set is over ${MAX_DOCUMENT_BYTES} bytes` }],
        warnings: prepared.set.warnings,
      }
    }
    const key = policyVersionKey(input.tenant, version, nonce())
    await store.set(key, text)
    const history = head
      ? [{ version: head.version, key: head.key }, ...head.history].slice(0, HISTORY_LENGTH)
      : []
    const next: PolicyHead = { version, key, publishedAt, history }
    if (await store.compareAndSwap(headKey, current, JSON.stringify(next))) {
      // Documents that fell out of the history are unreachable now; best effort.
      const dropped = head ? [head, ...head.history].slice(HISTORY_LENGTH).map((h) => h.key) : []
      if (dropped.length > 0) await store.delete(...dropped).catch(() => 0)
      return {
        ok: true,
        tenant: input.tenant,
        version,
        policies: Object.keys(prepared.set.policies),
        warnings: prepared.set.warnings,
      }
    }
    await store.delete(key).catch(() => 0)
  }
  throw new PolicyStoreError('contended', `gave up after ${ATTEMPTS} concurrent publishes`)
}

/**
 * The head of a tenant's policy set, or `undefined` when none was ever published. Throws a
 * `PolicyStoreError` when the key holds something else.
 *
 * @example (await readPolicyHead(store, 'default'))?.version // 3
 */
export async function readPolicyHead(
  store: Pick<Store, 'get'>,
  tenant: string,
): Promise<PolicyHead | undefined> {
  const text = await store.get(policyHeadKey(tenant))
  return text === null ? undefined : headOrThrow(text)
}

/**
 * A published version (default: the one in force), or `undefined` when there is none or it has
 * left the history.
 *
 * @example const document = await readPolicySet(store, 'default')
 */
export async function readPolicySet(
  store: Pick<Store, 'get'>,
  tenant: string,
  version?: number,
): Promise<PolicyDocument | undefined> {
  const head = await readPolicyHead(store, tenant)
  if (!head) return undefined
  const key =
    version === undefined || version === head.version
      ? head.key
      : head.history.find((h) => h.version === version)?.key
  if (key === undefined) return undefined
  const text = await store.get(key)
  if (text === null) return undefined
  const document = parsePolicyDocument(text)
  if (!document || document.tenant !== tenant || document.version !== (version ?? head.version)) {
    throw new PolicyStoreError('document_invalid', `${key} is not a policy set document`)
  }
  return document
}

function headOrThrow(text: string): PolicyHead {
  const head = parsePolicyHead(text)
  if (!head)
    throw new PolicyStoreError('head_invalid', 'the policy head in L2 is not a policy head')
  return head
}

function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
