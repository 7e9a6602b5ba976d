/**
 * Server-provided DPoP nonces (RFC 9449 §8): a value the server hands out in `DPoP-Nonce` and then
 * requires in the `nonce` claim, so a proof cannot be made ahead of time (§11.2). Stateless: a nonce
 * is a period number and an HMAC of it, `<period>.<mac>`, valid in its period and the next, so any
 * origin process holding the same secret accepts what another handed out and no store is written per
 * request. The secret comes from the caller (the origin keeps one in L2, shared by its processes).
 *
 * @example
 * const nonces = createDpopNonces({ secret: () => loadSecret() })
 * response.headers.set('DPoP-Nonce', await nonces.current())
 * await nonces.isValid(proofNonce) // true for the current and the previous period's value
 */
import { encodeBase64Url } from './base64url.ts'
import type { Clock } from './types.ts'

/** How long one nonce value is handed out, seconds; each is accepted for up to twice as long. */
export const DPOP_NONCE_PERIOD_SECONDS = 300

export interface DpopNoncesOptions {
  /** The HMAC secret (at least 32 bytes); asked once per process and kept. */
  secret: () => Promise<Uint8Array>
  periodSeconds?: number
  now?: Clock
}

export interface DpopNonces {
  /** The nonce to hand out now. */
  current(): Promise<string>
  /** Whether `nonce` is this or the previous period's value. */
  isValid(nonce: string): Promise<boolean>
}

const NONCE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/

/**
 * Builds the nonce source. The per-period values are computed once and kept, so checking a nonce
 * costs a string comparison.
 *
 * @example const nonces = createDpopNonces({ secret: async () => secretBytes })
 */
export function createDpopNonces(options: DpopNoncesOptions): DpopNonces {
  const period = options.periodSeconds ?? DPOP_NONCE_PERIOD_SECONDS
  if (!Number.isInteger(period) || period < 1) throw new RangeError('periodSeconds must be ≥ 1')
  const now = options.now ?? Date.now
  let key: CryptoKey | undefined
  const values = new Map<number, string>()

  async function valueOf(n: number): Promise<string> {
    const known = values.get(n)
    if (known !== undefined) return known
    if (key === undefined) {
      const secret = await options.secret()
      if (secret.length < 32) throw new RangeError('the DPoP nonce secret must be ≥ 32 bytes')
      key = await crypto.subtle.importKey(
        'raw',
        secret as Uint8Array<ArrayBuffer>,
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      )
    }
    const label = n.toString(36)
    const mac = await crypto.subtle.sign(
      'HMAC',
      key,
      new TextEncoder().encode(`dpop-nonce:${label}`),
    )
    // 128 bits of the MAC: unforgeable for the minutes a nonce lives.
    const value = `${label}.${encodeBase64Url(new Uint8Array(mac).subarray(0, 16))}`
    values.set(n, value)
    for (const old of values.keys()) if (old < n - 1) values.delete(old)
    return value
  }

  const periodNow = () => Math.floor(now() / 1000 / period)

  return {
    current: () => valueOf(periodNow()),
    async isValid(nonce) {
      const match = NONCE.exec(nonce)
      if (match === null) return false
      const n = parseInt(match[1]!, 36)
      const p = periodNow()
      if (n !== p && n !== p - 1) return false
      return (await valueOf(n)) === nonce
    },
  }
}
