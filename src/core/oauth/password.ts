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
}
