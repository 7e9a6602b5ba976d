/**
 * Publishes the origin's public JWKS to L2 for the edge (DESIGN.md, Keys: "Publishing is atomic in L2").
 * The document is one string — a JWKS with `version` and `updated_at` members (RFC 7517 §5 allows extra
 * members) — replaced with compare-and-swap against what was read, so two origins starting at once
 * cannot interleave halves of two key sets, and the version only ever goes up.
 *
 * @example await publishJwks(store, keys.publicJwks(), clock) // { version: 4, changed: true }
 */
import type { JWK } from 'jose'
import { sha256 } from './crypto.ts'
import { generateSigningKey } from './keys.ts'
import type { SigningKeyConfig } from './config.ts'
import { keys as storeKeys, parseRecord, type OAuthStore } from './store.ts'

export interface PublishedJwks {
  keys: JWK[]
  version: number
  updated_at: number
}

const fingerprint = (jwks: readonly JWK[]): Promise<string> =>
  sha256(JSON.stringify([...jwks].map((k) => JSON.stringify(k)).sort()))

export async function publishJwks(
  store: OAuthStore,
  jwks: { keys: readonly JWK[] },
  now: () => number = Date.now,
): Promise<{ version: number; changed: boolean }> {
  const key = storeKeys.publicJwks()
  const ours = await fingerprint(jwks.keys)
  for (let attempt = 0; attempt < 8; attempt++) {
    const raw = await store.get(key)
    const current = parseRecord<PublishedJwks>(raw)
    if (current && Array.isArray(current.keys) && (await fingerprint(current.keys)) === ours)
      return { version: current.version, changed: false }
    const next: PublishedJwks = {
      keys: [...jwks.keys],
      version: (typeof current?.version === 'number' ? current.version : 0) + 1,
      updated_at: Math.floor(now() / 1000),
    }
    if (await store.compareAndSwap(key, raw, JSON.stringify(next)))
      return { version: next.version, changed: true }
  }
  throw new Error('could not publish the JWKS: store contention')
}

/**
 * The development key when the config has none: generated once and shared through the store with
 * SET NX, so every process on one store signs with the same key instead of competing ones. Never
 * used when keys are configured; origin.ts refuses it in production.
 *
 * @example const key = await sharedEphemeralKey(store)
 */
export async function sharedEphemeralKey(store: OAuthStore): Promise<SigningKeyConfig> {
  const candidate = await generateSigningKey('ES256')
  await store.set(storeKeys.ephemeralKey(), JSON.stringify(candidate), { ifAbsent: true })
  const winner = parseRecord<SigningKeyConfig>(await store.get(storeKeys.ephemeralKey()))
  return winner ?? candidate
}
