/**
 * The one mapping from a thrown error to a response, installed as the app's `onError` (app.ts). Routes
 * throw; they never build error bodies. What a route's errors look like is said once, by the
 * `errorFormat` context variable (`errorFormat(...)` middleware):
 *
 * - `json` (default): RFC 6749 §5.2 `{ error, error_description }`, `Cache-Control: no-store` and
 *   `Pragma: no-cache` (RFC 6749 §5.1), `WWW-Authenticate: Basic` on a 401 `invalid_client`
 *   (RFC 6749 §5.2, RFC 9110 §15.5.2). /token, /revoke (RFC 7009 §2.2.1), /introspect (RFC 7662 §2.3).
 * - `bearer`: a protected resource (/userinfo): the same body plus an RFC 6750 §3 `Bearer` challenge
 *   on 400/401/403.
 * - `html`: the hosted login's pages (/authorize, /login, /logout): the error page, never a redirect
 *   (RFC 6749 §4.1.2.1: an unverified redirect URI is never followed).
 *
 * `AuthError` is always an RFC 6750 response (auth-response.ts). Every transient failure (the store,
 * an upstream, the key set) is a 503 with `Retry-After` (RFC 9110 §10.2.3). Anything unexpected is a
 * 500 `server_error` whose message is never sent or logged (it may quote input or a secret).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { AuthError, GatehouseError } from '../core/errors.ts'
import { StoreError } from '../store/errors.ts'
import { authErrorResponse, bearerChallenge } from './auth-response.ts'
import type { Logger } from './log.ts'
import { errorPage, htmlResponse } from './oauth/html.ts'
import type { ErrorFormat, GatehouseEnv } from './types.ts'
import { requestIdOf, setErrorCode } from './request-record.ts'

/**
 * Declares how errors of the routes below are rendered.
 *
 * @example app.use('/authorize', errorFormat('html'))
 */
export const errorFormat =
  (format: ErrorFormat): MiddlewareHandler<GatehouseEnv> =>
  async (c, next) => {
    c.set('errorFormat', format)
    await next()
  }

const INTERNAL = 'an internal error occurred'

/**
 * The `onError` handler: any error to its response, logged by name (never by message).
 *
 * @example app.onError(errorHandler(logger, 'gatehouse'))
 */
export function errorHandler(logger: Logger, realm: string) {
  return (err: Error, c: Context<GatehouseEnv>): Response => {
    if (err instanceof HTTPException) {
      setErrorCode(c, `http_${err.status}`)
      return err.getResponse()
    }
    if (err instanceof GatehouseError) {
      setErrorCode(c, err instanceof StoreError ? `store_${err.code}` : err.code)
      logKnown(err, c, logger)
      if (err instanceof AuthError) return authErrorResponse(err, realm)
      return gatehouseErrorResponse(err, c.get('errorFormat') ?? 'json', realm)
    }
    setErrorCode(c, 'server_error')
    logger.log({
      level: 'error',
      msg: 'unhandled error',
      requestId: requestIdOf(c),
      errorName: err instanceof Error ? err.name : typeof err,
      // The first stack frame says where without the message (which may contain input or secrets).
      at:
        err instanceof Error
          ? err.stack?.split('\n').find((l) => l.trimStart().startsWith('at '))
          : undefined,
    })
    const internal = new GatehouseError({
      code: 'server_error',
      description: INTERNAL,
      status: 500,
      rfcError: 'server_error',
    })
    return gatehouseErrorResponse(internal, c.get('errorFormat') ?? 'json', realm)
  }
}

/** Failures on our side are logged; a client's mistake is only the access log's `error` code. */
function logKnown(err: GatehouseError, c: Context<GatehouseEnv>, logger: Logger): void {
  if (err.status < 500) return
  logger.log({
    level: err.transient ? 'warn' : 'error',
    msg: err instanceof StoreError ? 'store failure' : 'request failed',
    requestId: requestIdOf(c),
    code: err.code,
    ...(err instanceof StoreError ? { operation: err.operation } : {}),
  })
}

/**
 * The body and headers for a `GatehouseError` other than `AuthError`, in the route's format.
 *
 * @example return gatehouseErrorResponse(new OAuthError('invalid_grant', '…'), 'json', 'gatehouse')
 */
export function gatehouseErrorResponse(
  err: GatehouseError,
  format: ErrorFormat,
  realm: string,
): Response {
  const headers = new Headers({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
  if (err.retryAfterSeconds !== undefined) headers.set('Retry-After', String(err.retryAfterSeconds))
  for (const [name, value] of Object.entries(err.headers ?? {})) headers.set(name, value)
  if (format === 'html') return htmlResponse(errorPage(err.description), err.status, { headers })
  if (err.rfcError === 'invalid_client' && err.status === 401)
    headers.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
  if (
    format === 'bearer' &&
    (err.status === 401 || err.status === 403 || err.rfcError === 'invalid_request')
  )
    headers.set(
      'WWW-Authenticate',
      bearerChallenge(realm, { error: err.rfcError, description: err.description }),
    )
  headers.set('Content-Type', 'application/json')
  const body = JSON.stringify({ error: err.rfcError, error_description: err.description })
  return new Response(body, { status: err.status, headers })
}
