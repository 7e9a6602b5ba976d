/**
 * Password hashing as an injected interface, so core stays runtime-free: the origin passes the scrypt
 * implementation from src/entry/password.ts (node:crypto), tests may pass a cheaper one.
 */
export interface PasswordHasher {
  /** A self-describing encoded hash (algorithm, parameters, salt, digest). */
  hash(password: string): Promise<string>
  /** Constant-time check of `password` against an encoded hash; `false` for a malformed hash. */
  verify(password: string, encoded: string): Promise<boolean>
  /** True when `encoded` uses weaker parameters than the current ones (rehash on next login). */
  needsRehash(encoded: string): boolean
  /** Relative work of verifying against `encoded` (scrypt: N·r·p); undefined when malformed. */
  cost(encoded: string): number | undefined
  /**
   * An encoded hash at the current parameters that no password matches (random salt and digest),
   * made without running the hash: what unknown usernames are verified against, at the same cost as
   * a real hash. Optional: without it the user directory hashes a dummy password at start, which
   * for scrypt at OWASP's parameters takes 128 MiB of memory for a moment (issue 15, origin RSS).
   */
  unmatchable?(): string
}
