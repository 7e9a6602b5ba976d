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
  /**
   * What `write` and `toString` call once they have checked their arguments and picked the
   * encoding: Node's per-encoding methods, on `Buffer.prototype` but not documented, so optional
   * (`directBufferMethods` tells whether this runtime has them).
   */
  utf8Write?(text: string, offset: number, length: number): number
  base64urlWrite?(text: string, offset: number, length: number): number
  latin1Slice?(start: number, end: number): string
}

/** `NativeBytes` whose per-encoding methods are there (see `directBufferMethods`). */
export type DirectBytes = NativeBytes &
  Required<Pick<NativeBytes, 'utf8Write' | 'base64urlWrite' | 'latin1Slice'>>

/**
 * Whether `bytes` has Node's per-encoding methods, which skip `write`'s and `toString`'s argument
 * checks and encoding lookup (~0.1 µs per cold verification, issue 15 item 5). Only for arguments
 * already known to be in range: the methods still refuse offsets outside the buffer, but nothing
 * else is checked.
 *
 * @example if (directBufferMethods(bytes)) bytes.latin1Slice(0, 4)
 */
export const directBufferMethods = (bytes: NativeBytes): bytes is DirectBytes =>
  typeof bytes.utf8Write === 'function' &&
  typeof bytes.base64urlWrite === 'function' &&
  typeof bytes.latin1Slice === 'function'

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
