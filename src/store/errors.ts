/**
 * Every failure of the L2 backend is a `StoreError` with a stable `code` (the jose habit), so the HTTP
 * layer can map it once (to a 503) and never send its text to a client. Messages name the operation
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

export class StoreError extends Error {
  override readonly name = 'StoreError'
  readonly code: StoreErrorCode
  /** The Store method that failed, e.g. `take`. */
  readonly operation: string

  constructor(code: StoreErrorCode, operation: string, detail: string) {
    super(`store ${operation} failed (${code}): ${detail}`)
    this.code = code
    this.operation = operation
  }
}

export const isStoreError = (e: unknown): e is StoreError => e instanceof StoreError

/** Redis error replies are safe to repeat (they carry no values), but cap and flatten them anyway. */
export function redisErrorText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200)
}
