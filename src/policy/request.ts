/**
 * The Cedar request for one HTTP request, built from the verified token and the route (docs/policy.md,
 * "Request model"):
 *
 *   principal  User::"<sub>", or Client::"<client_id>" when the token is the client's own
 *              (client_credentials: sub = client_id, RFC 9068 §2.2), with attributes from claims:
 *              scope, roles, groups, amr (sets of strings), tenant, clientId (strings);
 *              tenant is the tenant whose issuer verified the token when tenancy is on
 *   action     Action::"<METHOD> <route template>", e.g. Action::"GET /documents/:id"
 *   resource   <Type>::"<path parameter>" as the route config names it
 *   context    time (Long, epoch seconds), dpopBound (Bool: the token has cnf.jkt, RFC 9449 §6),
 *              ip (ipaddr, when the client address is known), params (the path parameters)
 *
 * Claims are input like any other: a claim of an unexpected type becomes an empty set or an empty
 * string, never an exception, and nothing but strings, booleans and integers we built ever reaches
 * the engine. Values past the bounds below refuse the request (a deny) rather than being cut, since
 * cutting a set could hide the role a `forbid` looks for.
 *
 * The principal is built once per verified token: the L1 token cache hands every request of a
 * token the same deep-frozen claims object, so its principal (frozen in turn) is remembered per
 * claims object, and compiled-set.ts remembers per principal what each slice sends. The principal
 * entity never has parents (policy-analysis.ts relies on it: no `in` can tell two principals apart).
 */
import { wellFormed, type CedarValueJson, type EntityJson } from './engine.ts'

export interface EntityRef {
  type: string
  id: string
}

/** What the route and the runtime tell us about the request. */
export interface RequestFacts {
  /** The verified token's claims. */
  claims: Record<string, unknown>
  /** The tenant whose policy set decides. */
  tenant: string
  /**
   * The tenant whose issuer verified the token (tenancy). When set it is the principal's `tenant`
   * attribute, whatever the claims say: a tenant's issuer cannot speak for another tenant.
   */
  issuerTenant?: string
  /** The action id, `METHOD /route/:template`. */
  action: string
  resource: EntityRef
  /** The client's address, when known (the edge: `cf-connecting-ip`). */
  clientIp?: string | undefined
  /** Milliseconds since the epoch. */
  nowMs: number
  /** Path parameters of the route. */
  params?: Record<string, string>
}

export interface CedarRequest {
  principal: EntityRef
  action: string
  resource: EntityRef
  /** The principal's entity, with every attribute (a decision sends the ones its policies read). */
  principalEntity: EntityJson
  context: Record<string, CedarValueJson>
}

export type BuildResult = { ok: true; request: CedarRequest } | { ok: false; reason: string }

/** Bounds on what a token may bring into a decision. */
export const MAX_SET_SIZE = 256
export const MAX_STRING_LENGTH = 1024
const MAX_PARAMS = 32

const SET_ATTRIBUTES = ['roles', 'groups', 'amr'] as const
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

class OutOfBounds extends Error {}

/**
 * @example
 * const built = buildCedarRequest({
 *   claims: verified.claims, tenant: 'default', action: 'GET /documents/:id',
 *   resource: { type: 'Document', id: '42' }, nowMs: Date.now(),
 * })
 * if (built.ok) compiled.decide(built.request)
 */
export function buildCedarRequest(facts: RequestFacts): BuildResult {
  try {
    return { ok: true, request: build(facts) }
  } catch (err) {
    if (err instanceof OutOfBounds) return { ok: false, reason: err.message }
    throw err
  }
}

interface BuiltPrincipal {
  /** The facts besides the claims that the principal depends on (its `tenant`). */
  issuerTenant: string | undefined
  tenant: string
  principalEntity: EntityJson
}

/** Principals by the (deep-frozen) claims object they were built from. */
const principals = new WeakMap<object, BuiltPrincipal>()

/** Claims that cannot change: frozen, and so is every value the principal is built from. */
function immutable(claims: Record<string, unknown>): boolean {
  if (!Object.isFrozen(claims)) return false
  for (const name of ['scope', 'scp', 'cnf', ...SET_ATTRIBUTES]) {
    const value = claims[name]
    if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) return false
  }
  return true
}

function principalOf(facts: RequestFacts, claims: Record<string, unknown>): EntityJson {
  const memo = immutable(claims)
  const known = memo ? principals.get(claims) : undefined
  if (known && known.issuerTenant === facts.issuerTenant && known.tenant === facts.tenant) {
    return known.principalEntity
  }
  const principalEntity = buildPrincipal(facts, claims)
  if (memo) {
    deepFreeze(principalEntity)
    principals.set(claims, {
      issuerTenant: facts.issuerTenant,
      tenant: facts.tenant,
      principalEntity,
    })
  }
  return principalEntity
}

function buildPrincipal(facts: RequestFacts, claims: Record<string, unknown>): EntityJson {
  const sub = claims.sub
  if (typeof sub !== 'string' || sub === '') throw new OutOfBounds('principal_unknown')
  bounded(sub)
  const clientId = typeof claims.client_id === 'string' ? bounded(claims.client_id) : ''
  const principal: EntityRef =
    clientId !== '' && clientId === sub ? { type: 'Client', id: sub } : { type: 'User', id: sub }

  const attrs: Record<string, CedarValueJson> = {
    scope: scopeSet(claims.scope ?? claims.scp),
    ...Object.fromEntries(SET_ATTRIBUTES.map((name) => [name, stringSet(claims[name])])),
    tenant:
      facts.issuerTenant ??
      (typeof claims.tenant === 'string' ? bounded(claims.tenant) : facts.tenant),
    clientId,
  }
  return { uid: principal, attrs, parents: [] }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const member of Object.values(value)) deepFreeze(member)
}

function build(facts: RequestFacts): CedarRequest {
  // The route's own strings too (a resource id from a handler's function, a custom action).
  for (const value of [facts.action, facts.resource.type, facts.resource.id]) {
    if (typeof value !== 'string' || !wellFormed(value))
      throw new OutOfBounds('params_out_of_bounds')
  }
  const claims = isRecord(facts.claims) ? facts.claims : {}
  const principalEntity = principalOf(facts, claims)
  const principal = principalEntity.uid as EntityRef

  const context: Record<string, CedarValueJson> = {
    time: Math.floor(facts.nowMs / 1000),
    dpopBound: dpopBound(claims.cnf),
    params: params(facts.params),
  }
  const ip = facts.clientIp
  if (typeof ip === 'string' && isIpLiteral(ip)) context.ip = { __extn: { fn: 'ip', arg: ip } }

  return {
    principal,
    action: facts.action,
    resource: facts.resource,
    principalEntity,
    context,
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A string a decision may carry: at most MAX_STRING_LENGTH, and well-formed UTF-16. JSON (a JWT's
 * claims) can spell a lone surrogate (`"\ud800"`); the engine cannot hold one, throws, and after
 * some 1,500 such calls its WebAssembly memory is corrupt for good (every later call traps: measured
 * with 4.13.0), so one is refused here and never reaches it.
 */
function bounded(value: string): string {
  if (value.length > MAX_STRING_LENGTH || !wellFormed(value)) {
    throw new OutOfBounds('claims_out_of_bounds')
  }
  return value
}

/** RFC 9068 §2.2.3 / RFC 8693 §4.2: a space-separated string; some issuers send an array (`scp`). */
function scopeSet(value: unknown): string[] {
  if (typeof value === 'string') return strings(value.split(' ').filter((s) => s !== ''))
  return stringSet(value)
}

/** An array keeps its strings (other elements cannot equal a string anyway); one string is a set of one. */
function stringSet(value: unknown): string[] {
  if (typeof value === 'string') return strings([value])
  if (!Array.isArray(value)) return []
  return strings(value.filter((v): v is string => typeof v === 'string'))
}

function strings(values: string[]): string[] {
  if (values.length > MAX_SET_SIZE) throw new OutOfBounds('claims_out_of_bounds')
  for (const v of values) bounded(v)
  return values
}

function dpopBound(cnf: unknown): boolean {
  return isRecord(cnf) && typeof cnf.jkt === 'string' && cnf.jkt !== ''
}

function params(values: Record<string, string> | undefined): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {}
  if (values === undefined) return out
  const entries = Object.entries(values)
  if (entries.length > MAX_PARAMS) throw new OutOfBounds('params_out_of_bounds')
  for (const [name, value] of entries) {
    if (typeof value !== 'string') continue
    out[bounded(name)] = bounded(value)
  }
  return out
}

/** IPv4 dotted quad or an IPv6 literal (what URL accepts between brackets: no zone id). */
function isIpLiteral(ip: string): boolean {
  if (IPV4.test(ip)) return true
  return (
    ip.includes(':') &&
    ip.length <= 45 &&
    /^[0-9A-Fa-f:.]+$/.test(ip) &&
    URL.canParse(`http://[${ip}]/`)
  )
}
