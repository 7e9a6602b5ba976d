/**
 * The part of the L2 store the OAuth core uses, declared here so core stays free of our other layers
 * (DESIGN.md, Layout); `Store` from src/store/types.ts satisfies it structurally. Also the key names
 * (one place, so operators can find them) and `updateJson`, the compare-and-swap retry loop every
 * read-modify-write goes through.
 */
import { OAuthError } from './errors.ts'

export interface OAuthStore {
  get(key: string): Promise<string | null>
  set(
    key: string,
    value: string,
    options?: { ttlSeconds?: number; ifAbsent?: boolean },
  ): Promise<boolean>
  delete(...keys: string[]): Promise<number>
  take(key: string): Promise<string | null>
  compareAndSwap(
    key: string,
    expected: string | null,
    next: string | null,
    options?: { ttlSeconds?: number },
  ): Promise<boolean>
  increment(key: string, ttlSeconds: number): Promise<number>
  appendToStream(stream: string, fields: Record<string, string>): Promise<string>
  schedule(key: string, member: string, dueAtMs: number): Promise<void>
  claimDue(key: string, nowMs: number, leaseMs: number, count: number): Promise<string[]>
  unschedule(key: string, member: string): Promise<boolean>
}

/**
 * Store key layout. Tokens, codes and session secrets appear only as SHA-256 digests, so a dump of the
 * store holds nothing a client could present.
 */
export const keys = {
  code: (hash: string) => `oauth:code:${hash}`,
  refreshToken: (hash: string) => `oauth:rt:${hash}`,
  refreshFamily: (id: string) => `oauth:rf:${id}`,
  session: (sid: string) => `oauth:session:${sid}`,
  /** The live sessions of a subject (`{ sessions: [{ sid, expiresAt }] }`), so all can be ended. */
  subjectSessions: (subHash: string) => `oauth:user-sessions:${subHash}`,
  /** A logout waiting for the user's confirmation, under the digest of its form token. */
  logoutConfirmation: (hash: string) => `oauth:logout:${hash}`,
  /** Back-channel logout deliveries: the due-time schedule of jobs, and each job's attempt count. */
  backchannelSchedule: () => 'oauth:bcl:due',
  backchannelAttempts: (id: string) => `oauth:bcl:attempts:${id}`,
  /** Jobs that used every attempt, kept a while for operators (`gatehouse` logs name them). */
  backchannelDeadJob: (id: string) => `oauth:bcl:dead:${id}`,
  loginRequest: (hash: string) => `oauth:login:${hash}`,
  rateLimit: (kind: string, id: string) => `oauth:rl:${kind}:${id}`,
  passwordHash: (sub: string) => `oauth:pw:${sub}`,
  ephemeralKey: () => 'oauth:ephemeral-signing-key',
  /** The HMAC secret of DPoP nonces (dpop.ts), shared by every origin process. */
  dpopNonceSecret: () => 'oauth:dpop-nonce-secret',
  /** The public JWKS document the edge reads (`{ version, updatedAt, jwks }`). */
  publicJwks: () => 'jwks:public',
} as const

/** Parses a stored JSON record; a corrupt value reads as absent rather than crashing a request. */
export function parseRecord<T>(raw: string | null): T | undefined {
  if (raw === null) return undefined
  try {
    return JSON.parse(raw) as T
  } catch {
    return undefined
  }
}

/**
 * Read-modify-write of one JSON record through `compareAndSwap`, retried when another writer got
 * there first. `change` returns the new record, `null` to delete, or `undefined` to leave it alone.
 * Resolves the record as finally written (or the unchanged one).
 *
 * @example await updateJson(store, keys.refreshFamily(id), (f) => f && { ...f, revoked: true }, ttl)
 */
export async function updateJson<T>(
  store: OAuthStore,
  key: string,
  change: (current: T | undefined) => T | null | undefined,
  ttlSeconds?: number | ((next: T) => number),
  attempts = 8,
): Promise<T | undefined> {
  for (let i = 0; i < attempts; i++) {
    const raw = await store.get(key)
    const current = parseRecord<T>(raw)
    const next = change(current)
    if (next === undefined) return current
    const nextRaw = next === null ? null : JSON.stringify(next)
    const ttl = next !== null && typeof ttlSeconds === 'function' ? ttlSeconds(next) : ttlSeconds
    const options = typeof ttl === 'number' && ttl > 0 ? { ttlSeconds: ttl } : {}
    if (await store.compareAndSwap(key, raw, nextRaw, options)) return next ?? undefined
  }
  // Lost every race: the client may retry (a 503 with Retry-After, not a 500).
  throw new OAuthError('temporarily_unavailable', 'The service is busy; retry shortly.')
}
