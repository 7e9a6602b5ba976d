/**
 * Node's `Buffer`, where the runtime has one (Node; workerd only with `nodejs_compat`, which our Worker
 * does not set), found on `globalThis` because the core compiles without Node types. Only the few
 * members the hot paths use are typed: native base64url and UTF-8 conversions, several times faster
 * than the JavaScript and `TextEncoder` equivalents on Node 22 (measured in issue 15, cold RS256).
 *
 * @example const bytes = nativeBuffer ? nativeBuffer.from(text, 'utf8') : new TextEncoder().encode(text)
 */

/** A `Buffer` instance as used here: a `Uint8Array` that can encode itself. */
export interface NativeBytes extends Uint8Array {
  toString(encoding?: 'base64url'): string
  /** `bytes[start, end)` as text: one character per byte for 'latin1'. */
  toString(encoding: 'latin1', start: number, end: number): string
  /**
   * Writes `text` decoded or encoded per `encoding` at `offset`, at most `length` bytes (whole
   * characters only for 'utf8'); returns the bytes written.
   */
  write(text: string, offset: number, length: number, encoding: 'base64url' | 'utf8'): number
}

/** The static side of `Buffer` used here. */
export interface NativeBuffer {
  from(text: string, encoding: 'base64url' | 'utf8'): NativeBytes
  /** A view of `buffer` (no copy). */
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): NativeBytes
}

export const nativeBuffer: NativeBuffer | undefined = (globalThis as { Buffer?: NativeBuffer })
  .Buffer

/**
 * A plain `Uint8Array` over the same memory as `bytes` (no copy): what the core hands out, so callers
 * never meet `Buffer` semantics (its `slice` does not copy).
 *
 * @example plainView(nativeBuffer.from('Zm9v', 'base64url')) // Uint8Array [102, 111, 111]
 */
export const plainView = (bytes: Uint8Array): Uint8Array =>
  new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
