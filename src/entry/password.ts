/**
 * scrypt password hashing for the origin (node:crypto; injected into core as `PasswordHasher`).
 * Defaults are OWASP's scrypt parameters: N = 2^17, r = 8, p = 1 (128 MiB, a few hundred ms here).
 * The encoded form is self-describing, `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (base64url, 16-byte salt,
 * 32-byte hash), so parameters can be raised later: `needsRehash` says when a stored hash is weaker
 * than the current parameters and the login flow replaces it.
 *
 * @example
 * const passwords = createScryptHasher()
 * const encoded = await passwords.hash('correct horse battery staple')
 * await passwords.verify('correct horse battery staple', encoded) // true
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type { PasswordHasher } from '../core/oauth/password.ts'

export interface ScryptParameters {
  /** log2 of the cost N. Default 17. */
  ln?: number
  r?: number
  p?: number
}

const KEY_LENGTH = 32
const ENCODED =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{43})$/
// Bounds on parameters we are willing to run: a hostile or mistyped hash cannot ask for gigabytes.
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const

const within = (value: number, [min, max]: readonly [number, number]): boolean =>
  value >= min && value <= max

function derive(password: string, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 32 * 1024 * 1024 }
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  )
}

function parse(
  encoded: string,
): { ln: number; r: number; p: number; salt: Buffer; hash: Buffer } | undefined {
  const m = ENCODED.exec(encoded)
  if (!m) return undefined
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (!within(ln, LIMITS.ln) || !within(r, LIMITS.r) || !within(p, LIMITS.p)) return undefined
  return {
    ln,
    r,
    p,
    salt: Buffer.from(m[4] as string, 'base64url'),
    hash: Buffer.from(m[5] as string, 'base64url'),
  }
}

export function createScryptHasher(parameters: ScryptParameters = {}): PasswordHasher {
  const ln = parameters.ln ?? 17
  const r = parameters.r ?? 8
  const p = parameters.p ?? 1
  if (!within(ln, LIMITS.ln) || !within(r, LIMITS.r) || !within(p, LIMITS.p))
    throw new RangeError('createScryptHasher: parameters out of range')
  const encode = (salt: Buffer, key: Buffer): string =>
    `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`
  return {
    async hash(password) {
      const salt = randomBytes(16)
      const key = await derive(password, salt, ln, r, p)
      return encode(salt, key)
    },
    // A random digest: finding a password for it is a preimage search on scrypt, so nothing matches.
    unmatchable: () => encode(randomBytes(16), randomBytes(KEY_LENGTH)),
    async verify(password, encoded) {
      const parsed = parse(encoded)
      if (!parsed) return false
      const key = await derive(password, parsed.salt, parsed.ln, parsed.r, parsed.p)
      return timingSafeEqual(key, parsed.hash)
    },
    needsRehash(encoded) {
      const parsed = parse(encoded)
      return !parsed || parsed.ln < ln || parsed.r < r || parsed.p < p
    },
    cost(encoded) {
      const parsed = parse(encoded)
      return parsed && 2 ** parsed.ln * parsed.r * parsed.p
    },
  }
}
