/**
 * Types shared by the HTTP layer: what `createApp` needs (its deps) and what handlers put on the
 * Hono context. Kept apart from the app so `requireAuth` users import types without the app.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono'
import type { Clock, VerifiedToken } from '../core/types.ts'
import type { PolicySets } from '../policy/policy-sets.ts'
import type { PolicyRouteTable } from '../policy/route-table.ts'
import type { CircuitBreakerOptions } from './circuit-breaker.ts'
import type { DpopGuard } from './dpop-guard.ts'
import type { UpstreamFetch } from './forwarder.ts'
import type { Logger } from './log.ts'

/** Anything that verifies an access token: the core verifier, its cached wrapper, a test double. */
export interface TokenVerifier {
  verify(token: string, request?: VerificationRequest): Promise<VerifiedToken>
  /**
   * Optional: `verify` without a promise where the answer needs no waiting (an L1 hit whose checks
   * all ran at once): the result itself, or a throw where `verify` would reject; otherwise the
   * promise `verify` returns. Lets a route answer synchronously (the L1 verifier has it).
   */
  verifyNow?(token: string, request?: VerificationRequest): VerifiedToken | Promise<VerifiedToken>
  /**
   * Optional: whether this exact token string is one the verifier verified and still serves from
   * its L1 cache (so a well-formed compact JWS), without side effects. Lets `/verify` skip the
   * `b64token` scan of the header (bearer.ts) on a hit; `verifyNow` still runs every other check.
   */
  isCached?: (token: string) => boolean
}

/** What a verifier may use of the request it serves. */
export interface VerificationRequest {
  /** Keeps background work (a revocation or tenant-registry sync) alive after the response (Workers). */
  waitUntil?: (promise: Promise<unknown>) => void
}

/** Hono context variables set by our middleware. */
export interface GatehouseVariables {
  /** The verified token, set by `requireAuth` (and `/verify`). */
  auth: VerifiedToken
  /**
   * Set by `requestIdMiddleware` in hand-composed stacks; `createApp`'s apps keep the id in the
   * request's record instead: read it with `requestIdOf(c)` (request-record.ts), which finds both.
   */
  requestId: string
  /** Stable error code of a failed request, for the access log line: set it with `setErrorCode`. */
  errorCode: string
  /** How this route's errors are rendered by the app's `onError` (error-response.ts). Default json. */
  errorFormat: ErrorFormat
  /** W3C `traceparent` of this request's span, set by tracing.ts; the origin proxy forwards it. */
  traceparent: string
  /** The tenant this request was found to be for (src/tenancy/); unset for the default tenant. */
  tenant: string
}

/** `json`: RFC 6749 §5.2 bodies; `bearer`: plus RFC 6750 challenges; `html`: the login's error page. */
export type ErrorFormat = 'json' | 'bearer' | 'html'

export interface GatehouseEnv {
  Variables: GatehouseVariables
}

/**
 * Per-request work run by `observeRequests` (request-observer.ts) around the app's `fetch`, outside
 * Hono's middleware chain.
 */
export interface RequestHooks {
  /**
   * Runs before the routes, after the request id is made, with the request and the runtime's bindings
   * (on Node `{ incoming, outgoing }`). May throw (Node's request guard refuses with a
   * `RequestError`): the error is rendered by the app's `onError`, and the refusal is answered,
   * counted and logged like any other response.
   */
  before?: (request: Request, env: unknown) => void
  /** Runs once the response exists, before the access log line, with the request's duration (metrics). */
  after?: (answered: AnsweredRequest, seconds: number) => void
}

/** What `RequestHooks.after` learns of an answered request. */
export interface AnsweredRequest {
  method: string
  /**
   * Hono's matched pattern (`/verify`, `/api/*`): where an error was answered (`setErrorCode`), else
   * the last handler matched for the request; '' when nothing matched. Never the raw path.
   */
  route: string
  status: number
}

/** Gateway mode: requests under `/api/` are verified and forwarded to `url`. */
export interface GatewayOptions {
  /** Absolute http(s) URL without query; the path after `/api` is appended to its path. */
  url: string
  /** Scopes every forwarded request's token must hold (403 `insufficient_scope` otherwise). */
  scopes?: string[]
  /** Forward the caller's `Authorization` header upstream. Default false: it is removed. */
  forwardAuthorization?: boolean
  /** Deadline for the whole upstream exchange, bodies included, in milliseconds. Default 30,000. */
  timeoutMs?: number
  /** Request bodies above this many bytes are refused with 413. Default 1 MiB. */
  maxBodyBytes?: number
  /** Breaker thresholds around the upstream. Default 5 consecutive failures, open 30 s. */
  breaker?: Omit<CircuitBreakerOptions, 'now'>
  /** Browser origins allowed to call `/api/*` cross-origin (cors.ts). Default none: no CORS. */
  allowedOrigins?: string[]
  /**
   * Routes decided by Cedar policies after verification (docs/policy.md); `context.ip` is the
   * runtime's client address (`clientIp`). Default none.
   */
  policy?: { table: PolicyRouteTable; policySets: PolicySets }
}

/**
 * Everything `createApp` needs. Nothing is read from the environment here: the entries build deps.
 * `role` decides which route groups are served locally (DESIGN.md, "Two runtimes, one app").
 */
export interface AppDeps {
  role: 'edge' | 'origin'
  /** Absent on a minting origin that verifies nothing itself: no `/verify`, no gateway. */
  verifier?: TokenVerifier
  /**
   * DPoP proof checks for `/verify` and the gateway (RFC 9449 §7). Default: a guard whose replay
   * cache is this isolate's memory only; the entries pass one backed by L2.
   */
  dpop?: DpopGuard
  logger: Logger
  gateway?: GatewayOptions
  /**
   * How the gateway calls its upstream; default `globalThis.fetch`. The Node origin passes its own
   * client (src/entry/node-upstream-fetch.ts); tests inject a fake.
   */
  fetch?: UpstreamFetch
  /** Milliseconds since the epoch, for the gateway's breaker. Default `Date.now`. */
  now?: Clock
  /**
   * The client's address as the runtime knows it (the socket peer behind our trusted proxies on
   * Node, `cf-connecting-ip` on Workers), forwarded as `X-Forwarded-For`. Default: none is sent.
   */
  clientIp?: (c: Context<GatehouseEnv>) => string | undefined
  /**
   * Work on every request around the app's `fetch`, with the request id and the access log
   * (request-observer.ts), cheaper than a middleware layer each: Node's request guard before the
   * routes, metrics after.
   */
  requestHooks?: RequestHooks
  /** Middleware run on every request right after the request id and access log (e.g. tracing). */
  middleware?: MiddlewareHandler<GatehouseEnv>[]
  /** Extra route groups mounted after ours, e.g. the origin's OAuth endpoints. */
  routes?: { path: string; app: Hono<GatehouseEnv> }[]
  /** Last-chance hook to add routes or middleware to the built app. */
  extend?: (app: Hono<GatehouseEnv>) => void
  /** `realm` in `WWW-Authenticate` challenges (RFC 6750 §3). Default "gatehouse". */
  realm?: string
}
