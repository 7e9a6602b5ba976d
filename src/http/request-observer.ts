/**
 * How `createApp` observes every request: the request id, the runtime's request hooks (Node's guard
 * and metrics), the id on the response and the access log line, done around the app's `fetch`
 * instead of as a Hono middleware layer.
 *
 * Why not a middleware (issue 15): any middleware, even one trivial `async` layer, takes a request
 * off Hono's single-handler path (the handler is called directly, and a `Response` it returns is
 * returned as it is) onto the composed chain (an async function, promises and a closure per layer
 * per request), and a promise where `@hono/node-server` expects a `Response` costs it a close
 * listener and a deferred write. On a no-op route that was most of our stack's cost. Around `fetch`,
 * a route that answers synchronously is still written synchronously.
 */
import { Hono, type Context } from 'hono'
import type { Logger } from './log.ts'
import { openRequestRecord, type RequestRecord } from './request-record.ts'
import { requestIdFrom, withRequestId, writeAccessLog } from './request-log.ts'
import type { GatehouseEnv, RequestHooks } from './types.ts'

export interface ObserveOptions {
  /** The app's `onError`: renders a `before` hook's refusal like any thrown error. */
  onError: (err: Error, c: Context<GatehouseEnv>) => Response | Promise<Response>
  hooks?: RequestHooks
}

/**
 * Replaces `app.fetch` (which `app.request()`, `@hono/node-server` and the Worker entry all call)
 * with one that, per request: makes the request id and the request's record (request-record.ts),
 * runs `hooks.before` (a refusal it throws is rendered by `onError`), dispatches, then puts the id on
 * the response, runs `hooks.after` and writes the access log line. Same fields, same rules as the
 * middleware it replaced. Routes report failures with `setErrorCode(c, code)` and read the id with
 * `requestIdOf(c)`.
 *
 * @example
 * const app = new Hono<GatehouseEnv>()
 * app.onError(onError)
 * observeRequests(app, logger, { onError, hooks: { after: metrics.record } })
 */
export function observeRequests(
  app: Hono<GatehouseEnv>,
  logger: Logger,
  options: ObserveOptions,
): void {
  const dispatch = app.fetch
  const { before, after } = options.hooks ?? {}
  const refuse = before === undefined ? undefined : refusalRenderer(options.onError)
  const matches = matchRecorder(app)

  /**
   * After the answer: the id on it, `after`, the log line. `path` and `result`: what Hono's router
   * was asked and answered (undefined for a refused request, which was never dispatched).
   */
  const finish = (
    response: Response,
    request: Request,
    env: unknown,
    record: RequestRecord,
    start: number,
    path: string | undefined,
    result: MatchResult | undefined,
  ): Response => {
    const answered = withRequestId(response, record.id, env)
    const status = answered.status
    const end = performance.now()
    const method = request.method
    if (after !== undefined) {
      const route = record.errorRoute ?? (result === undefined ? '' : routeOf(result))
      after({ method, route, status }, (end - start) / 1000)
    }
    // The path Hono matched (a refused request's is read here).
    const logged = path ?? app.getPath(request, { env })
    writeAccessLog(logger, record.id, method, logged, status, end - start, record.errorCode)
    return answered
  }

  app.fetch = (request, env, executionCtx) => {
    const start = performance.now()
    const record = openRequestRecord(
      request,
      requestIdFrom(request, env),
      (env as { incoming?: { rawHeaders?: string[] } } | undefined)?.incoming?.rawHeaders,
    )
    let answer: Response | Promise<Response> | undefined
    if (before !== undefined) {
      try {
        before(request, env)
      } catch (err) {
        if (!(err instanceof Error)) throw err
        answer = (refuse as NonNullable<typeof refuse>)(err, request, env, executionCtx)
      }
    }
    matches.path = undefined
    matches.result = undefined
    answer ??= dispatch(request, env, executionCtx)
    // Hono matches the route synchronously, before any handler can await: read it now, before
    // another request's dispatch can run.
    const { path, result } = matches
    if (answer instanceof Promise)
      return answer.then((response) => finish(response, request, env, record, start, path, result))
    return finish(answer, request, env, record, start, path, result)
  }
}

/**
 * Renders a `before` hook's refusal through `onError` with a real `Context` of the request: a small
 * app whose one route throws that refusal, so the error is rendered, reported (`setErrorCode`) and
 * logged exactly like one a route threw.
 */
function refusalRenderer(onError: ObserveOptions['onError']) {
  const refusals = new WeakMap<Request, Error>()
  const renderer = new Hono<GatehouseEnv>()
  renderer.all('*', (c) => {
    throw refusals.get(c.req.raw) as Error
  })
  renderer.onError(onError)
  return (err: Error, request: Request, env: unknown, executionCtx: unknown) => {
    refusals.set(request, err)
    return renderer.fetch(request, env as object, executionCtx as never)
  }
}

/** What Hono's router answers for one request. */
type MatchResult = ReturnType<Hono<GatehouseEnv>['router']['match']>

/** What Hono's router was asked (the path) and answered for the app's latest dispatch. */
interface Match {
  path: string | undefined
  result: MatchResult | undefined
}

/**
 * Remembers what Hono's router was asked (the path, as Hono decoded it) and answered for the app's
 * latest dispatch, so neither the path nor the matched route is worked out a second time per request.
 * The app's router is wrapped (`app.router` is public and `Router` a small interface: `add`,
 * `match`); Hono calls `match` once per request, synchronously, at the start of its dispatch. Kept
 * in two fields of one object (no object per request).
 */
function matchRecorder(app: Hono<GatehouseEnv>): Match {
  const router = app.router
  const recorder: Match = { path: undefined, result: undefined }
  app.router = {
    name: router.name,
    add: (method, path, handler) => router.add(method, path, handler),
    match: (method, path) => {
      const result = router.match(method, path)
      recorder.path = path
      recorder.result = result
      return result
    },
  }
  return recorder
}

/** The pattern of the last handler matched (the route that answers), '' when nothing matched. */
function routeOf(result: MatchResult): string {
  const handlers = result[0]
  const last = handlers[handlers.length - 1]
  return last === undefined ? '' : last[0][1].path
}
