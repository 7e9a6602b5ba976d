import { GatehouseError } from '../core/errors.ts'

/**
 * Every failure of the L2 backend is a `StoreError` with a stable `code` (the jose habit), a
 * `GatehouseError` the app's `onError` maps once (503 `temporarily_unavailable` with `Retry-After`),
 * never sending its text to a client. Messages name the operation
 * and the backend's error class, never a key, a value, the URL or the token.
 *
 * @example
 * try { await store.get(key) } catch (e) { if (isStoreError(e) && e.code === 'unavailable') retryLater() }
 */
export type StoreErrorCode =
  /** Network failure, timeout, or a 5xx from the backend. */
  | 'unavailable'
  /** The backend refused our credentials (HTTP 401/403). */
  | 'unauthorized'
  /** Redis rejected the command, e.g. WRONGTYPE or a non-integer INCR. */
  | 'command_failed'
  /** The backend answered something that is not the Upstash REST shape. */
  | 'bad_response'
  /** A stored value failed to parse or validate (json helpers). */
  | 'invalid_value'

/** Seconds a client should wait after the store failed: it is usually back within a second. */
export const STORE_RETRY_AFTER_SECONDS = 1

export class StoreError extends GatehouseError {
  override readonly name: string = 'StoreError'
  declare readonly code: StoreErrorCode
  /** The Store method that failed, e.g. `take`. */
  readonly operation: string

  constructor(code: StoreErrorCode, operation: string, detail: string) {
    super({
      code,
      description: 'the service is temporarily unavailable',
      status: 503,
      rfcError: 'temporarily_unavailable',
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
    })
    // For logs only (the description is what clients see): names the operation, never a value.
    this.message = `store ${operation} failed (${code}): ${detail}`
    this.operation = operation
  }
}

export const isStoreError = (e: unknown): e is StoreError => e instanceof StoreError

/**
 * A Redis error reply made safe to log: flattened, capped, and cut where Redis echoes the command's
 * arguments (`ERR unknown command 'X', with args beginning with: 'key' 'value'`), so neither a key
 * nor a value reaches a message.
 */
export function redisErrorText(text: string): string {
  const echo = text.search(/,? with args beginning with/i)
  const own = echo < 0 ? text : text.slice(0, echo)
  // eslint-disable-next-line no-control-regex
  return own.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200)
}
