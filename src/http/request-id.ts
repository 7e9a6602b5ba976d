/**
 * New request ids for requests that bring no sane `X-Request-Id` of their own (request-log.ts).
 *
 * An id only correlates a request's log lines, metrics exemplars and its response; it is not a
 * secret (a client may choose its own) and grants nothing. So it need not cost a random draw per
 * request (`crypto.randomUUID()`: ~0.2 µs on Node, a call into the runtime's RNG on workerd; issue
 * 15): each process (each isolate on Workers) draws 96 random bits once per 2^32 ids, and a request's
 * id is those bits followed by a counter. The counter goes through a random bijection of 32-bit
 * integers (an odd multiplier and a mask drawn with the prefix), so consecutive ids do not show it.
 *
 * The result has the shape of a UUID (RFC 9562 version 8, "custom"; 36 characters of `[0-9a-f-]`),
 * which log pipelines and the `X-Request-Id` conventions of proxies accept; ids from different
 * processes differ in their random prefix (a collision among a million processes is ~2^-50).
 */

/** Ids made per random prefix: then a new prefix, multiplier and mask are drawn. */
const IDS_PER_PREFIX = 2 ** 32

/** Two hex digits per byte value: `Number.prototype.toString(16)` costs ~0.5 µs a call here. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

let prefix = ''
let multiplier = 1
let mask = 0
/** The next counter value; `IDS_PER_PREFIX` means "draw a new prefix first" (also at start). */
let next = IDS_PER_PREFIX

/**
 * A new request id: `xxxxxxxx-xxxx-8xxx-Yxxx-xxxxxxxxxxxx` (Y one of 8, 9, a, b). The random part is
 * drawn at the first call, not at module load (Workers refuse random values in global scope).
 *
 * @example const id = newRequestId() // '3f1c9a0e-52b7-8d44-a1e6-90c2d4e1f7a3'
 */
export function newRequestId(): string {
  if (next === IDS_PER_PREFIX) drawPrefix()
  const n = Math.imul(next++, multiplier) ^ mask
  return prefix + HEX[n >>> 24] + HEX[(n >>> 16) & 0xff] + HEX[(n >>> 8) & 0xff] + HEX[n & 0xff]
}

/** 12 random bytes with the version (8) and variant (10) bits of RFC 9562 §5.8 as the prefix. */
function drawPrefix(): void {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  let hex = ''
  for (const byte of bytes) hex += HEX[byte]
  prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  const words = crypto.getRandomValues(new Uint32Array(2))
  multiplier = ((words[0] as number) | 1) >>> 0
  mask = words[1] as number
  next = 0
}
