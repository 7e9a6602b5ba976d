/**
 * The policy sets in force in this isolate, one per tenant, read from L2 and compiled once per
 * version. A tenant's set is loaded on its first decision (so a tenant, or an app, that never decides
 * never loads the engine), then re-checked at most every `refreshSeconds` in the background: the
 * request that notices goes on with the set it has, and the check runs in `waitUntil` on Workers.
 *
 * When L2 is away, or holds something that does not compile, the last valid set stays in force.
 * With no set at all (never published, removed, or L2 away since start) the answer says so, and the
 * caller denies: nothing is allowed without a policy set.
 */
import type { Clock } from '../core/types.ts'
import type { Logger } from '../http/log.ts'
import type { Store } from '../store/types.ts'
import { compilePolicySet, type CompiledPolicySet } from './compiled-set.ts'
import { createDecisionCache, type DecisionCache } from './decision-cache.ts'
import type { CedarEngineLoader } from './engine.ts'
import {
  assertTenant,
  parsePolicyDocument,
  parsePolicyHead,
  policyHeadKey,
} from './policy-document.ts'

export type PolicySetState =
  | { status: 'ready'; set: CompiledPolicySet }
  /** No set is published for the tenant. */
  | { status: 'none' }
  /** L2 did not answer and no set was ever loaded. */
  | { status: 'unavailable' }

export interface PolicySets {
  /**
   * The tenant's set in force. `waitUntil` keeps a background refresh alive past the response
   * (Workers' `ctx.waitUntil`); without it the refresh just runs.
   */
  current(tenant: string, waitUntil?: (promise: Promise<unknown>) => void): Promise<PolicySetState>
  /**
   * Per tenant: the version in force, when L2 was last read, and who decided the uncached
   * decisions of that version in this isolate (evaluator.ts or the engine), for a status endpoint.
   */
  status(): {
    tenant: string
    version: number | null
    checkedAt: string | null
    decidedBy: { evaluator: number; engine: number } | null
  }[]
}

export interface PolicySetsOptions {
  store: Pick<Store, 'get'>
  engine: CedarEngineLoader
  /** How often a set in force is re-checked in L2. Default 10. */
  refreshSeconds?: number
  /** Deadline of one L2 read. Default 1,000 ms. */
  timeoutMs?: number
  /** Shared by every tenant's decisions. Default a cache of 10,000 decisions. */
  cache?: DecisionCache
  logger?: Logger
  now?: Clock
  /** Tenants held at once; the oldest loaded is dropped past it. Default 1,000. */
  maxTenants?: number
}

interface TenantState {
  set: CompiledPolicySet | undefined
  status: PolicySetState['status']
  /** When L2 was last read for this tenant (successfully or not); 0 before the first read. */
  checkedAt: number
  refreshing: boolean
  /** Successful swaps; its parity names the engine slot the next set uses. */
  generation: number
}

/** After a failed first load, how long callers are answered `unavailable` before L2 is tried again. */
const RETRY_MS = 1000

class Timeout extends Error {}

/**
 * @example
 * const policySets = createPolicySets({ store, engine: loadWorkerCedar, logger })
 * const state = await policySets.current('default', (p) => ctx.waitUntil(p))
 * if (state.status === 'ready') state.set.decide(request)
 */
export function createPolicySets(options: PolicySetsOptions): PolicySets {
  const refreshMs = (options.refreshSeconds ?? 10) * 1000
  const timeoutMs = options.timeoutMs ?? 1000
  const cache = options.cache ?? createDecisionCache()
  const now = options.now ?? Date.now
  const maxTenants = options.maxTenants ?? 1000
  const log = options.logger?.log.bind(options.logger) ?? (() => {})
  const tenants = new Map<string, TenantState>()

  const read = async (key: string): Promise<string | null> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await Promise.race([
        options.store.get(key),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Timeout()), timeoutMs)
        }),
      ])
    } finally {
      if (timer !== undefined) clearTimeout(timer)
    }
  }

  /** Reads the head (and the document when the version moved) and swaps in a new valid set. */
  const refresh = async (tenant: string, state: TenantState): Promise<void> => {
    const started = now()
    try {
      const headText = await read(policyHeadKey(tenant))
      state.checkedAt = started
      if (headText === null) {
        if (state.set) log({ level: 'warn', msg: 'policy set removed from L2', tenant })
        state.set = undefined
        state.status = 'none'
        return
      }
      const head = parsePolicyHead(headText)
      if (!head) return invalid(tenant, state, 'the head is not a policy head')
      if (state.set?.version === head.version) return
      const documentText = await read(head.key)
      const document = documentText === null ? undefined : parsePolicyDocument(documentText)
      if (!document || document.tenant !== tenant || document.version !== head.version) {
        return invalid(tenant, state, `version ${head.version} has no valid document`)
      }
      if (state.set?.version === document.version) return
      const compiled = compilePolicySet(options.engine(), document, {
        slot: `${tenant}#${(state.generation + 1) & 1}`,
        cache,
      })
      if (!compiled.ok) return invalid(tenant, state, compiled.reason, document.version)
      state.generation++
      state.set = compiled.set
      state.status = 'ready'
      log({
        level: 'info',
        msg: 'policy set in force',
        tenant,
        version: document.version,
        policies: compiled.set.policyCount,
        compileMs: now() - started,
      })
    } catch (err) {
      state.checkedAt = started
      if (!state.set) state.status = 'unavailable'
      log({
        level: 'warn',
        msg: state.set ? 'policy L2 read failed; last valid set stays' : 'policy L2 read failed',
        tenant,
        ...(state.set ? { version: state.set.version } : {}),
        errorName:
          err instanceof Timeout ? 'timeout' : err instanceof Error ? err.name : typeof err,
      })
    }
  }

  const invalid = (tenant: string, state: TenantState, reason: string, version?: number) => {
    if (!state.set) state.status = 'none'
    log({
      level: 'error',
      msg: 'policy set in L2 not loaded; last valid set stays',
      tenant,
      reason,
      ...(version === undefined ? {} : { rejectedVersion: version }),
      ...(state.set ? { version: state.set.version } : {}),
    })
  }

  const stateOf = (tenant: string): TenantState => {
    let state = tenants.get(tenant)
    if (state) return state
    assertTenant(tenant)
    if (tenants.size >= maxTenants) tenants.delete(tenants.keys().next().value as string)
    state = { set: undefined, status: 'none', checkedAt: 0, refreshing: false, generation: 0 }
    tenants.set(tenant, state)
    return state
  }

  return {
    async current(tenant, waitUntil) {
      const state = stateOf(tenant)
      const age = now() - state.checkedAt
      if (state.set) {
        if (age >= refreshMs && !state.refreshing) {
          state.refreshing = true
          const done = refresh(tenant, state).finally(() => {
            state.refreshing = false
          })
          if (waitUntil) waitUntil(done)
        }
        return { status: 'ready', set: state.set }
      }
      const wait = state.status === 'unavailable' ? RETRY_MS : refreshMs
      // Every request without a set reads L2 itself (a pending read is never shared between
      // requests: workerd forbids it), except within the wait after the last read.
      if (state.checkedAt === 0 || age >= wait) await refresh(tenant, state)
      if (state.set) return { status: 'ready', set: state.set }
      return state.status === 'unavailable' ? { status: 'unavailable' } : { status: 'none' }
    },
    status() {
      return [...tenants].map(([tenant, s]) => ({
        tenant,
        version: s.set?.version ?? null,
        checkedAt: s.checkedAt === 0 ? null : new Date(s.checkedAt).toISOString(),
        decidedBy: s.set ? { ...s.set.decidedBy } : null,
      }))
    },
  }
}
