/**
 * `authorize(...)`: Hono middleware that asks the tenant's Cedar policy set whether the verified
 * caller may do what the route does. It runs after verification (`requireAuth`, or the gateway's
 * guard) and reads the verified token from `c.get('auth')`; it never sees the raw token.
 *
 * A deny answers 403 `access_denied` with the request id; when no set could ever be loaded because
 * L2 is away it answers 503 `temporarily_unavailable` (still closed, but worth a retry). Every
 * decision is logged with its determining policies and the principal, never the token.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Clock, VerifiedToken } from '../core/types.ts'
import { logEnabled, redactTokens, type Logger } from '../http/log.ts'
import { verificationRequestOf } from '../http/verification-request.ts'
import { decide, deniedWithout, type Decision } from './decide.ts'
import { DEFAULT_TENANT, assertTenant } from './policy-document.ts'
import type { PolicySets } from './policy-sets.ts'
import type { EntityRef } from './request.ts'
import { requestIdOf, setErrorCode } from '../http/request-record.ts'

/** A Cedar entity type name, optionally namespaced (`Document`, `Docs::Folder`). */
const ENTITY_TYPE = /^[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*$/
const NO_STORE = { 'Cache-Control': 'no-store' }

/** The route's resource: an entity type and the path parameter holding its id, or a fixed id. */
export type ResourceOption = { type: string; param: string } | { type: string; id: string }

export interface AuthorizeOptions {
  policySets: PolicySets
  /** Default `Route::"<route template>"`. */
  resource?: ResourceOption
  /** The action id. Default `"<METHOD> <route template>"` (HEAD as GET), e.g. `GET /documents/:id`. */
  action?: string
  /**
   * The tenant whose policies decide. Default: the tenant whose issuer verified the token
   * (`VerifiedToken.tenant`, set by the tenancy verifier from `iss`), else `default`. A fixed id or a
   * function narrows it; a token verified by another tenant is then denied, never decided by this
   * tenant's policies.
   */
  tenant?: string | ((c: Context) => string)
  /** The client's address for `context.ip`. Default none: a header is trusted only when told. */
  clientIp?: (c: Context) => string | undefined
  logger?: Logger
  now?: Clock
}

/** Variables `authorize` reads (`auth`, `requestId`) and sets (`errorCode`, `policyDecision`). */
export interface AuthorizeEnv {
  Variables: {
    auth: VerifiedToken
    requestId: string
    errorCode: string
    policyDecision: Decision
  }
}

/**
 * Options are checked here, once; a bad one throws a `TypeError` naming it.
 *
 * @example
 * const policySets = createPolicySets({ store, engine: loadWorkerCedar })
 * app.get(
 *   '/documents/:id',
 *   requireAuth({ issuer, audience, jwksUrl }),
 *   authorize({ policySets, resource: { type: 'Document', param: 'id' } }),
 *   (c) => c.json({ id: c.req.param('id') }),
 * )
 */
export function authorize(options: AuthorizeOptions): MiddlewareHandler<AuthorizeEnv> {
  checkOptions(options)
  const { policySets, resource, action: fixedAction, clientIp, logger } = options
  const now = options.now ?? Date.now
  const chosen = options.tenant
  const tenantOf = (c: Context, verified: VerifiedToken): string =>
    typeof chosen === 'function' ? chosen(c) : (chosen ?? verified.tenant ?? DEFAULT_TENANT)

  return async function authorizeMiddleware(c, next) {
    const verified = c.get('auth') as VerifiedToken | undefined
    if (verified === undefined) {
      // A wiring mistake (authorize before verification), not a client error: fail closed, loudly.
      throw new Error('authorize() ran before the token was verified: mount requireAuth first')
    }
    const template = c.req.routePath
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method
    const action = fixedAction ?? `${method} ${template}`
    const params = c.req.param() as Record<string, string>
    const target = resourceOf(resource, params, template)
    const requestTenant = tenantOf(c, verified)
    // A tenant's policies decide only its own tokens: the issuer that verified the token is the
    // tenant it belongs to (RFC 8725 §3.8, RFC 9068 §4: the issuer is validated, and each tenant is
    // its own issuer), so a token of another tenant is denied before any policy is read.
    const decision =
      verified.tenant !== undefined && verified.tenant !== requestTenant
        ? deniedWithout('tenant_mismatch', null)
        : await decide(
            policySets,
            {
              claims: verified.claims,
              tenant: requestTenant,
              ...(verified.tenant === undefined ? {} : { issuerTenant: verified.tenant }),
              action,
              resource: target,
              clientIp: clientIp?.(c),
              nowMs: now(),
              params,
            },
            verificationRequestOf(c).waitUntil,
          )
    c.set('policyDecision', decision)
    const requestId = requestIdOf(c) ?? crypto.randomUUID()
    if (logger && logEnabled(logger, 'info')) {
      logger.log({
        level: 'info',
        msg: 'policy decision',
        requestId,
        tenant: requestTenant,
        ...(decision.reason === 'tenant_mismatch' ? { tokenTenant: verified.tenant } : {}),
        decision: decision.decision,
        reason: decision.reason,
        policies: decision.policies,
        ...(decision.errors.length > 0 ? { errors: decision.errors } : {}),
        version: decision.version,
        cached: decision.cached,
        principal: decision.principal === null ? null : redactTokens(decision.principal),
        action,
        resource: redactTokens(`${target.type}::${JSON.stringify(target.id)}`),
      })
    }
    if (decision.decision === 'allow') {
      await next()
      return undefined
    }
    const unavailable = decision.reason === 'policy_store_unavailable'
    setErrorCode(c, unavailable ? 'policy_unavailable' : 'access_denied')
    const headers = { ...NO_STORE, 'X-Request-Id': requestId }
    return unavailable
      ? c.json(
          {
            error: 'temporarily_unavailable',
            error_description: 'no policy set could be loaded; try again',
            request_id: requestId,
          },
          503,
          { ...headers, 'Retry-After': '1' },
        )
      : c.json(
          {
            error: 'access_denied',
            error_description: 'the policy does not permit this request',
            request_id: requestId,
          },
          403,
          headers,
        )
  }
}

function checkOptions(options: AuthorizeOptions): void {
  if (typeof options?.policySets?.current !== 'function') {
    throw new TypeError('authorize: policySets required (createPolicySets)')
  }
  const { resource, action, tenant } = options
  if (resource !== undefined) {
    if (typeof resource.type !== 'string' || !ENTITY_TYPE.test(resource.type)) {
      throw new TypeError('authorize: resource.type must be a Cedar entity type name')
    }
    const hasParam = 'param' in resource && typeof resource.param === 'string'
    const hasId = 'id' in resource && typeof resource.id === 'string'
    if (hasParam === hasId) {
      throw new TypeError('authorize: resource needs exactly one of param (a path parameter) or id')
    }
  }
  if (action !== undefined && (typeof action !== 'string' || action === '')) {
    throw new TypeError('authorize: action must be a non-empty string')
  }
  if (typeof tenant === 'string') assertTenant(tenant)
  else if (tenant !== undefined && typeof tenant !== 'function') {
    throw new TypeError('authorize: tenant must be a tenant id or a function')
  }
}

function resourceOf(
  option: ResourceOption | undefined,
  params: Record<string, string>,
  template: string,
): EntityRef {
  if (option === undefined) return { type: 'Route', id: template }
  if ('id' in option) return { type: option.type, id: option.id }
  const id = params[option.param]
  if (id === undefined) {
    throw new Error(`authorize: the route ${template} has no path parameter :${option.param}`)
  }
  return { type: option.type, id }
}
