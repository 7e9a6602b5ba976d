/**
 * Cold verification on Node without per-token buffers: the token's bytes, its payload and its
 * signature are decoded into one buffer that the process reuses for every token, through Node's
 * native decoders, instead of three `Buffer`s, two re-encoded strings and their views per token
 * (issue 15, cold RS256: ~1 µs of ~4.5 µs over the bare check went there).
 *
 * Every check of the general path (jws.ts) still holds, told differently:
 * - ASCII: the token is written as UTF-8; it is ASCII exactly when that takes one byte per
 *   character. Those bytes are also the signing input (RFC 7515 §5.2 step 8: ASCII of
 *   `BASE64URL(header) '.' BASE64URL(payload)`).
 * - Canonical base64url (RFC 7515 §2, RFC 4648 §3.5): Node's decoder also takes `+` and `/`, which
 *   are refused first, and skips or stops at any other character outside the alphabet, so such a
 *   segment decodes to fewer bytes than its length calls for; a segment decodes to exactly that
 *   many bytes, with zero trailing bits, only when it is canonical. The same strings are accepted as
 *   by the general path (tested against the JavaScript decoder, every ASCII character at every
 *   place).
 * - Strict JSON (RFC 7515 §5.2, RFC 7519 §7.2): the payload's `"` bytes are counted four at a time
 *   while it is checked for non-ASCII bytes (which then go through the fatal UTF-8 decoder), and its
 *   text is searched for a `\`; `parseJsonObjectWithQuotes` tells duplicate names from the count.
 * Whatever this path cannot answer (a long token, non-ASCII, anything not canonical, a payload that
 * is not a JSON object with unique names) it leaves to the general path, which says why it refuses.
 *
 * The signing input and signature it returns are views into the shared buffer: valid until the next
 * call of `lendJwsBody` or `parseJwsPayload` (`scratchEpoch` tells), so only for a signature check
 * that answers before anything else runs (`SignatureCheck.synchronous`).
 */
import { decodedByteLength, hasZeroTrailingBits } from './base64url.ts'
import { parseJsonObjectWithQuotes } from './json.ts'
import {
  directBufferMethods,
  nativeBuffer,
  type DirectBytes,
  type NativeBytes,
} from './native-buffer.ts'

/** Longest token the scratch buffer takes, in characters; longer ones take the general path. */
const SCRATCH_TOKEN_MAX = 8192
/** Bytes past the token's UTF-8: a non-ASCII character (at most 4 bytes) cannot be cut off to fit. */
const UTF8_SLACK = 4
/** Room for the token, the payload and the signature, each starting at a multiple of 8. */
const SCRATCH_BYTES = 2 * SCRATCH_TOKEN_MAX + 64

interface Scratch {
  readonly bytes: NativeBytes
  /** `bytes` again where it has Node's per-encoding methods (`directBufferMethods`). */
  readonly direct: DirectBytes | undefined
  /** The same memory as 32-bit words, for counting four bytes at a time. */
  readonly words: Int32Array
  readonly buffer: ArrayBuffer
  /** The last views lent: tokens of one issuer share a layout, so they are usually reused. */
  signingInput: Uint8Array
  signature: Uint8Array
}

let scratch: Scratch | undefined
let epoch = 0

/** Made on first use, so a process that verifies nothing holds nothing. */
function scratchArea(): Scratch | undefined {
  if (scratch === undefined && nativeBuffer !== undefined) {
    const buffer = new ArrayBuffer(SCRATCH_BYTES)
    const bytes = nativeBuffer.from(buffer, 0, SCRATCH_BYTES)
    scratch = {
      bytes,
      direct: directBufferMethods(bytes) ? bytes : undefined,
      words: new Int32Array(buffer),
      buffer,
      signingInput: new Uint8Array(buffer, 0, 0),
      signature: new Uint8Array(buffer, 0, 0),
    }
  }
  return scratch
}

/*
 * The three conversions, through Node's per-encoding methods where it has them: every offset and
 * length here is inside the buffer (SCRATCH_BYTES leaves room for the longest token's parts).
 */
const writeUtf8 = (area: Scratch, text: string, at: number, max: number): number =>
  area.direct === undefined
    ? area.bytes.write(text, at, max, 'utf8')
    : area.direct.utf8Write(text, at, max)

const writeBase64Url = (area: Scratch, text: string, at: number, max: number): number =>
  area.direct === undefined
    ? area.bytes.write(text, at, max, 'base64url')
    : area.direct.base64urlWrite(text, at, max)

const latin1Text = (area: Scratch, start: number, end: number): string =>
  area.direct === undefined
    ? area.bytes.toString('latin1', start, end)
    : area.direct.latin1Slice(start, end)

/** Changes whenever the scratch buffer is written; a lent view is current while it has not. */
export const scratchEpoch = (): number => epoch

/** A JWS body decoded into the scratch buffer (see the module comment). */
export interface LentJwsBody {
  payload: Record<string, unknown>
  /** Views into the scratch buffer, current while `scratchEpoch()` is `epoch`. */
  signingInput: Uint8Array
  signature: Uint8Array
  epoch: number
}

const align8 = (n: number): number => (n + 7) & ~7

/**
 * The payload, signing input and signature of a compact JWS split by `splitCompactJws`, decoded
 * into the scratch buffer; `undefined` where the general path must answer (no `Buffer`, a token
 * longer than the buffer, or anything that path would refuse).
 *
 * @example const lent = lendJwsBody(token, dot1, dot2) ?? parseJwsBody(token, dot1, dot2)
 */
export function lendJwsBody(token: string, dot1: number, dot2: number): LentJwsBody | undefined {
  const area = token.length <= SCRATCH_TOKEN_MAX ? scratchArea() : undefined
  if (area === undefined) return undefined
  epoch++
  const length = token.length
  if (writeUtf8(area, token, 0, length + UTF8_SLACK) !== length) return undefined
  if (token.indexOf('+') >= 0 || token.indexOf('/') >= 0) return undefined
  const payloadAt = align8(length + UTF8_SLACK)
  const payload = decodePayload(area, token, dot1 + 1, dot2, payloadAt)
  if (payload === undefined) return undefined
  const signatureAt = align8(payloadAt + decodedByteLength(dot1 + 1, dot2))
  const signatureLength = decodeInto(area, token, dot2 + 1, length, signatureAt)
  if (signatureLength < 0) return undefined
  if (area.signingInput.length !== dot2) area.signingInput = new Uint8Array(area.buffer, 0, dot2)
  const last = area.signature
  if (last.byteOffset !== signatureAt || last.length !== signatureLength) {
    area.signature = new Uint8Array(area.buffer, signatureAt, signatureLength)
  }
  return { payload, signingInput: area.signingInput, signature: area.signature, epoch }
}

/**
 * The JSON-object payload `token[start, end)` decoded through the scratch buffer; `undefined` where
 * the general path must answer.
 *
 * @example const payload = parseJwsPayload(token, dot1 + 1, dot2) ?? generalPath()
 */
export function parseJwsPayload(
  token: string,
  start: number,
  end: number,
): Record<string, unknown> | undefined {
  const area = end - start <= SCRATCH_TOKEN_MAX ? scratchArea() : undefined
  if (area === undefined) return undefined
  epoch++
  const segment = token.slice(start, end)
  // The segment as UTF-8 first: ASCII exactly when one byte per character (see lendJwsBody).
  if (writeUtf8(area, segment, 0, segment.length + UTF8_SLACK) !== segment.length) {
    return undefined
  }
  if (segment.indexOf('+') >= 0 || segment.indexOf('/') >= 0) return undefined
  return decodePayload(area, segment, 0, segment.length, align8(segment.length + UTF8_SLACK))
}

/** `s[start, end)`, known ASCII without `+` or `/`, decoded at `at`: its length, or -1. */
function decodeInto(area: Scratch, s: string, start: number, end: number, at: number): number {
  const expected = decodedByteLength(start, end)
  if (expected < 0 || !hasZeroTrailingBits(s, start, end)) return -1
  const segment = start === 0 && end === s.length ? s : s.slice(start, end)
  // Room for more than expected, so an (impossible) longer decoding would show too.
  const written = writeBase64Url(area, segment, at, expected + UTF8_SLACK)
  return written === expected ? written : -1
}

// ignoreBOM keeps a leading U+FEFF in the text so JSON.parse rejects it instead of silently eating it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodePayload(
  area: Scratch,
  s: string,
  start: number,
  end: number,
  at: number,
): Record<string, unknown> | undefined {
  const length = decodeInto(area, s, start, end, at)
  if (length < 0) return undefined
  const counted = countQuotes(area, at, length)
  let text: string
  if ((counted & 1) === 0) {
    // ASCII: one character per byte.
    text = latin1Text(area, at, at + length)
  } else {
    try {
      text = utf8.decode(new Uint8Array(area.buffer, at, length))
    } catch {
      return undefined
    }
  }
  // A backslash byte is always the character `\` in UTF-8 too: the quote count holds without one.
  return parseJsonObjectWithQuotes(text, text.indexOf('\\') < 0 ? counted >> 1 : -1)
}

/** Words per count of quotes in byte lanes: a lane adds at most 1 per word and holds 255. */
const LANE_WORDS = 255

/**
 * The `"` bytes of `bytes[at, at + length)` (`at` a multiple of 4), shifted left one bit, the low bit
 * set when some byte is not ASCII. In UTF-8 the byte 0x22 is always the character `"`, so the count
 * is the decoded text's. Four bytes per step: a byte b of the word is zero exactly when
 * `((b & 0x7f) + 0x7f | b) & 0x80` is, and the word XOR 0x22222222 has a zero byte where a quote
 * was; each such byte adds 1 to its lane of `lanes`, which is summed every `LANE_WORDS` words. A
 * backslash is looked for in the text (`indexOf`, native), not here.
 */
function countQuotes(area: Scratch, at: number, length: number): number {
  const words = area.words
  const first = at >> 2
  const last = first + (length >> 2)
  let quotes = 0
  let high = 0
  for (let w = first; w < last;) {
    const stop = Math.min(last, w + LANE_WORDS)
    let lanes = 0
    for (; w < stop; w++) {
      const word = words[w]!
      high |= word
      const q = word ^ 0x22222222
      lanes = (lanes + ((~(((q & 0x7f7f7f7f) + 0x7f7f7f7f) | q) & 0x80808080) >>> 7)) | 0
    }
    quotes += (lanes & 0xff) + ((lanes >>> 8) & 0xff) + ((lanes >>> 16) & 0xff) + (lanes >>> 24)
  }
  const bytes = area.bytes
  for (let i = last << 2; i < at + length; i++) {
    const byte = bytes[i]!
    high |= byte
    if (byte === 0x22) quotes++
  }
  return (quotes << 1) | ((high & 0x80808080) === 0 ? 0 : 1)
}
